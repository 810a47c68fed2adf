package dev.distill.schemas;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.schemas.avro.CuratedExample;
import dev.distill.schemas.avro.Prompt;
import dev.distill.schemas.avro.TeacherOutput;
import java.io.IOException;
import java.io.InputStream;
import java.util.stream.Stream;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaCompatibility.SchemaCompatibilityType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The schemas of today against the frozen v1 copies in test resources: a change that breaks a
 * reader of stored data, or a stored-data reader of new data, fails here. Freeze a new version by
 * adding a folder, never by editing v1.
 */
class SchemaCompatibilityTest {

  static Stream<Arguments> schemas() {
    return Stream.of(
        Arguments.of("Prompt", Prompt.getClassSchema()),
        Arguments.of("TeacherOutput", TeacherOutput.getClassSchema()),
        Arguments.of("CuratedExample", CuratedExample.getClassSchema()));
  }

  private static Schema frozen(String name) throws IOException {
    Schema.Parser parser = new Schema.Parser();
    for (String dep : new String[] {"Provenance", "LabelStats", "Rationale"}) {
      try (InputStream in =
          SchemaCompatibilityTest.class.getResourceAsStream("/frozen/v1/" + dep + ".avsc")) {
        parser.parse(in);
      }
    }
    if (parser.getTypes().containsKey("dev.distill.schemas.avro." + name)) {
      return parser.getTypes().get("dev.distill.schemas.avro." + name);
    }
    try (InputStream in =
        SchemaCompatibilityTest.class.getResourceAsStream("/frozen/v1/" + name + ".avsc")) {
      return parser.parse(in);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("schemas")
  void currentReaderReadsFrozenV1Data(String name, Schema current) throws IOException {
    assertThat(SchemaCompatibility.checkReaderWriterCompatibility(current, frozen(name)).getType())
        .isEqualTo(SchemaCompatibilityType.COMPATIBLE);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("schemas")
  void frozenV1ReaderReadsCurrentData(String name, Schema current) throws IOException {
    assertThat(SchemaCompatibility.checkReaderWriterCompatibility(frozen(name), current).getType())
        .isEqualTo(SchemaCompatibilityType.COMPATIBLE);
  }
}
