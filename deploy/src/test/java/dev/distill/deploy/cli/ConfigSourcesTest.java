package dev.distill.deploy.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
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
    Path file = write("c.conf", "teacher.steps = 10\nstudent.steps = 20\nlabel.top-k = 4\n");
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

  @Test
  void secretIsReadFromAFileGivenAsKeyDotFileAndIsRedacted() throws Exception {
    Path token = write("token", "s3cr3t-value\n");
    Map<String, String> out =
        collect(
            Map.of("DISTILL_TEACHER_API_TOKEN_FILE", token.toString()),
            Map.of(),
            "teacher.api-token");
    assertThat(out).containsEntry("teacher.api-token", "s3cr3t-value");
    assertThat(out).doesNotContainKey("teacher.api-token.file");
    assertThat(ConfigSources.redact("teacher.api-token", "s3cr3t-value")).isEqualTo("*****");
  }

  @Test
  void valuesMayReferToEnvironmentVariablesAndFiles() throws Exception {
    Path f = write("servers", "broker:9092");
    Map<String, String> out =
        collect(
            Map.of("TOPIC_NAME", "t1"),
            Map.of(
                "kafka.topic",
                "${env:TOPIC_NAME}",
                "kafka.bootstrap-servers",
                "${file:" + f + "}"));
    assertThat(out)
        .containsEntry("kafka.topic", "t1")
        .containsEntry("kafka.bootstrap-servers", "broker:9092");
  }

  @Test
  void aMissingSecretFileNamesTheKeyAndPath() {
    assertThatThrownBy(
            () -> collect(Map.of(), Map.of("teacher.api-token.file", "/nonexistent/token")))
        .hasMessageContaining("teacher.api-token.file")
        .hasMessageContaining("/nonexistent/token");
  }

  @Test
  void anEmptySecretFileABlankFileKeyOrAnEmptySecretVariableIsRefusedNamingTheKey()
      throws Exception {
    Path empty = write("empty-token", "  \n");
    assertThatThrownBy(
            () ->
                collect(
                    Map.of("DISTILL_TEACHER_API_TOKEN_FILE", empty.toString()),
                    Map.of(),
                    "teacher.api-token"))
        .hasMessageContaining("teacher.api-token.file")
        .hasMessageContaining("is empty");
    assertThatThrownBy(() -> collect(Map.of(), Map.of("teacher.api-token.file", " ")))
        .hasMessageContaining("teacher.api-token.file is empty");
    assertThatThrownBy(
            () -> collect(Map.of("TOKEN_VAR", ""), Map.of("teacher.api-token", "${env:TOKEN_VAR}")))
        .hasMessageContaining("teacher.api-token")
        .hasMessageContaining("TOKEN_VAR")
        .hasMessageContaining("empty");
    // A non-secret key may still be empty through a variable.
    assertThat(collect(Map.of("EMPTY", ""), Map.of("kafka.bootstrap-servers", "${env:EMPTY}")))
        .containsEntry("kafka.bootstrap-servers", "");
  }

  @Test
  void aConfigFolderLoadsEveryConfFileAndEqualsTheDefaults() throws Exception {
    Map<String, String> out =
        ConfigSources.collect(List.of(Path.of("..", "conf")), Map.of(), Map.of(), List.of());
    assertThat(out).isEqualTo(dev.distill.deploy.config.ConfigKeys.defaults(false));
  }

  /** Collects with no config file; {@code keys} are the declared keys the environment may set. */
  private static Map<String, String> collect(
      Map<String, String> env, Map<String, String> sets, String... keys) throws Exception {
    return ConfigSources.collect(List.of(), env, sets, List.of(keys));
  }

  /** Writes {@code content} to file {@code name} in the temp folder. */
  private Path write(String name, String content) throws IOException {
    return Files.writeString(tmp.resolve(name), content);
  }
}
