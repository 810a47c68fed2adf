package dev.distill.teacher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Secrets named by {@code --*-env} options never fail open (issue 17). */
class SecretEnvTest {
  private static final String UNSET =
      "DISTILL_TEST_UNSET_" + UUID.randomUUID().toString().replace('-', '_');

  /** A command line's exit code and what it printed on stderr. */
  private record Exit(int code, String err) {}

  private static Exit run(String... args) {
    StringWriter err = new StringWriter();
    int code = new CommandLine(new TeacherServiceMain()).setErr(new PrintWriter(err)).execute(args);
    return new Exit(code, err.toString());
  }

  @Test
  void anUnsetOrEmptyVariableIsRefusedNamingTheOptionAndTheVariable() {
    Map<String, String> env = Map.of("EMPTY_TOKEN", "", "BLANK_TOKEN", "  ", "TOKEN", "s3cret");
    assertThatThrownBy(() -> SecretEnv.read("--http-token-env", "NOPE", env::get))
        .hasMessageContaining("--http-token-env")
        .hasMessageContaining("NOPE")
        .hasMessageContaining("not set");
    assertThatThrownBy(() -> SecretEnv.read("--http-token-env", "EMPTY_TOKEN", env::get))
        .hasMessageContaining("EMPTY_TOKEN")
        .hasMessageContaining("empty");
    assertThatThrownBy(() -> SecretEnv.read("--remote-api-key-env", "BLANK_TOKEN", env::get))
        .hasMessageContaining("--remote-api-key-env")
        .hasMessageContaining("BLANK_TOKEN");
    assertThat(SecretEnv.read("--http-token-env", "TOKEN", env::get)).isEqualTo("s3cret");
    assertThat(SecretEnv.read("--http-token-env", null, env::get)).isNull();
  }

  @Test
  void serveWithAnUnsetTokenVariableRefusesToStartBeforeLoadingTheTeacher() {
    Exit exit =
        run(
            "serve",
            "--checkpoint",
            "/nonexistent/teacher",
            "--http-port",
            "0",
            "--http-token-env",
            UNSET);
    assertThat(exit.code()).isEqualTo(2);
    assertThat(exit.err()).contains("--http-token-env").contains(UNSET).contains("not set");
  }

  @Test
  void aRemoteApiKeyVariableThatIsUnsetRefusesToStartBatchToo() {
    Exit exit =
        run(
            "batch",
            "--remote-url",
            "http://127.0.0.1:9",
            "--remote-model",
            "m",
            "--tokenizer",
            "/nonexistent/tokenizer.json",
            "--remote-api-key-env",
            UNSET,
            "--input",
            "/nonexistent/prompts.jsonl",
            "--output",
            "/nonexistent/out",
            "--run-id",
            "r");
    assertThat(exit.code()).isEqualTo(2);
    assertThat(exit.err()).contains("--remote-api-key-env").contains(UNSET);
  }
}
