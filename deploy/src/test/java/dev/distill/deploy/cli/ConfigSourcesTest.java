package dev.distill.deploy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigSourcesTest {
  @TempDir Path tmp;

  @Test
  void precedenceIsFileThenEnvironmentThenSet() throws Exception {
    Path file = tmp.resolve("c.conf");
    Files.writeString(file, "teacher.steps = 10\nstudent.steps = 20\nlabel.top-k = 4\n");
    Map<String, String> out =
        ConfigSources.collect(
            file,
            Map.of("DISTILL_STUDENT_STEPS", "21", "DISTILL_LABEL_TOP_K", "5"),
            Map.of("label.top-k", "6"),
            List.of("teacher.steps", "student.steps", "label.top-k"));
    assertThat(out)
        .containsEntry("teacher.steps", "10")
        .containsEntry("student.steps", "21")
        .containsEntry("label.top-k", "6");
  }

  @Test
  void environmentNamesAreUpperCaseWithUnderscores() {
    assertThat(ConfigSources.envName("kafka.bootstrap-servers"))
        .isEqualTo("DISTILL_KAFKA_BOOTSTRAP_SERVERS");
  }

  @Test
  void secretLookingKeysAreRedacted() {
    assertThat(ConfigSources.redact("kafka.sasl.password", "hunter2")).isEqualTo("*****");
    assertThat(ConfigSources.redact("s3.access.key", "AKIA")).isEqualTo("*****");
    assertThat(ConfigSources.redact("teacher.steps", "10")).isEqualTo("10");
  }
}
