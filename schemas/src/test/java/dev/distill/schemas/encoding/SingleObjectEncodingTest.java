package dev.distill.schemas.encoding;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.distill.schemas.TestRecords;
import dev.distill.schemas.avro.Prompt;
import dev.distill.schemas.avro.TeacherOutput;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class SingleObjectEncodingTest {

  @Test
  void teacherOutputRoundTrips() {
    TeacherOutput in = TestRecords.teacherOutput("r1", 6);
    TeacherOutput out = SingleObjectEncoding.decodeTeacherOutput(SingleObjectEncoding.encode(in));
    assertThat(out).isEqualTo(in);
  }

  @Test
  void everyMessageStartsWithTheSingleObjectMarkerAndFingerprint() {
    byte[] bytes = SingleObjectEncoding.encode(TestRecords.teacherOutput("r1", 1));
    assertThat(bytes[0]).isEqualTo((byte) 0xC3);
    assertThat(bytes[1]).isEqualTo((byte) 0x01);
    assertThat(bytes.length).isGreaterThan(10);
  }

  @Test
  void unknownFingerprintIsAnErrorNotAGuess() {
    byte[] bytes = SingleObjectEncoding.encode(TestRecords.teacherOutput("r1", 1));
    bytes[5] ^= 0x5A; // corrupt the schema fingerprint
    assertDecodingFails(bytes, RecordDecodingException.Kind.UNKNOWN_SCHEMA_FINGERPRINT);
  }

  @Test
  void aPromptIsNotATeacherOutput() {
    Prompt p =
        Prompt.newBuilder().setPromptId("p").setRunId("r").setSource("s").setText("hello").build();
    byte[] bytes = SingleObjectEncoding.encode(p);
    assertThat(SingleObjectEncoding.decodePrompt(bytes)).isEqualTo(p);
    assertThatThrownBy(() -> SingleObjectEncoding.decodeTeacherOutput(bytes))
        .isInstanceOf(RecordDecodingException.class)
        .hasMessageContaining("UNKNOWN_SCHEMA_FINGERPRINT");
  }

  @Test
  void plainBytesAreNotSingleObjectEncoding() {
    assertDecodingFails(
        "garbage".getBytes(), RecordDecodingException.Kind.NOT_SINGLE_OBJECT_ENCODING);
  }

  @Test
  void truncatedBodyIsCorrupt() {
    byte[] bytes = SingleObjectEncoding.encode(TestRecords.teacherOutput("r1", 4));
    byte[] cut = Arrays.copyOf(bytes, 20);
    assertDecodingFails(cut, RecordDecodingException.Kind.CORRUPT_BODY);
  }

  private static void assertDecodingFails(byte[] bytes, RecordDecodingException.Kind kind) {
    assertThatThrownBy(() -> SingleObjectEncoding.decodeTeacherOutput(bytes))
        .isInstanceOfSatisfying(
            RecordDecodingException.class, e -> assertThat(e.kind()).isEqualTo(kind));
  }
}
