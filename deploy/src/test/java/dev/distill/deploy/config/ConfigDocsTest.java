package dev.distill.deploy.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class ConfigDocsTest {
  static final Path CONF = Path.of("..", "conf");

  @Test
  void shippedConfFilesAreExactlyTheGeneratedOnes() throws IOException {
    Map<String, String> generated = ConfigDocs.files();
    Set<String> shipped = new HashSet<>();
    try (Stream<Path> s = Files.list(CONF)) {
      s.filter(p -> p.toString().endsWith(".conf"))
          .forEach(p -> shipped.add(p.getFileName().toString()));
    }
    assertThat(shipped).isEqualTo(generated.keySet());
    for (Map.Entry<String, String> f : generated.entrySet()) {
      assertThat(Files.readString(CONF.resolve(f.getKey())))
          .as("conf/%s is stale: run `./distill config --docs conf`", f.getKey())
          .isEqualTo(f.getValue());
    }
  }

  @Test
  void everyKeyIsDocumentedOnceInItsStageFileWithItsDefault() {
    Map<String, String> files = ConfigDocs.files();
    for (ConfigKeys.Key k : ConfigKeys.all()) {
      assertThat(k.doc()).as(k.name()).isNotBlank();
      String expected = k.full().isEmpty() ? k.name() + " =\n" : k.name() + " = " + k.full() + "\n";
      for (Map.Entry<String, String> f : files.entrySet()) {
        boolean here = f.getKey().equals(k.stage().file());
        assertThat(f.getValue().contains("\n" + k.name() + " ="))
            .as("%s in %s", k.name(), f.getKey())
            .isEqualTo(here);
      }
      String text = files.get(k.stage().file());
      int at = text.indexOf("\n" + k.name() + " =");
      assertThat(text.substring(at + 1)).startsWith(expected);
      // The line before the key is (the end of) its documentation.
      String before = text.substring(0, at);
      assertThat(before.substring(before.lastIndexOf('\n') + 1)).startsWith("# ");
    }
  }

  @Test
  void keyNamesAreUniqueAndSecretsHaveNoDefault() {
    Set<String> seen = new HashSet<>();
    for (ConfigKeys.Key k : ConfigKeys.all()) {
      assertThat(seen.add(k.name())).as("duplicate key %s", k.name()).isTrue();
      if (k.secret()) {
        assertThat(k.full()).isEmpty();
        assertThat(k.quick()).isEmpty();
      }
    }
  }
}
