package dev.distill.deploy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

/** The option wiring of {@code distill cluster}; starting a real cluster is StandaloneClusterIT. */
class ClusterCommandTest {

  @Test
  void everySubcommandTakesStateWithTheSameDefault() {
    CommandLine cli = new CommandLine(new ClusterCommand());
    assertThat(cli.getSubcommands()).containsOnlyKeys("start", "stop", "url");
    for (String sub : cli.getSubcommands().keySet()) {
      ParseResult parsed = new CommandLine(new ClusterCommand()).parseArgs(sub);
      assertThat((Path) parsed.subcommand().commandSpec().findOption("--state").getValue())
          .as(sub)
          .isEqualTo(Path.of(ClusterCommand.DEFAULT_STATE));
    }
  }

  @Test
  void startParsesItsOptionsBesideState() {
    ParseResult start =
        new CommandLine(new ClusterCommand())
            .parseArgs("start", "--workers", "3", "--state", "x", "--timeout", "5")
            .subcommand();
    assertThat(start.matchedOptionValue("--workers", 0)).isEqualTo(3);
    assertThat(start.commandSpec().findOption("--cores").<Integer>getValue()).isEqualTo(1);
    assertThat(start.matchedOptionValue("--state", Path.of("?"))).isEqualTo(Path.of("x"));
    assertThat(start.matchedOptionValue("--timeout", 0)).isEqualTo(5);
  }

  @Test
  void urlExitsOneWhenNoClusterRunsFromTheStateFolder(@TempDir Path tmp) {
    assertThat(new CommandLine(new ClusterCommand()).execute("url", "--state", tmp.toString()))
        .isEqualTo(1);
  }
}
