package dev.distill.deploy.dist;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged distribution, unpacked somewhere else, runs with only Java: {@code bin/distill},
 * {@code lib/}, {@code conf/}.
 */
class DistributionIT {
  @TempDir static Path unpackDir;
  static Path home;

  @BeforeAll
  static void unpack() throws Exception {
    Path tarball;
    try (Stream<Path> s = Files.list(Path.of("target"))) {
      tarball =
          s.filter(p -> p.getFileName().toString().matches("distill-.*\\.tar\\.gz"))
              .findFirst()
              .orElseThrow(() -> new IllegalStateException("no distill-*.tar.gz in target/"));
    }
    Process p =
        new ProcessBuilder(
                "tar", "-xzf", tarball.toAbsolutePath().toString(), "-C", unpackDir.toString())
            .inheritIO()
            .start();
    assertThat(p.waitFor()).isZero();
    try (Stream<Path> s = Files.list(unpackDir)) {
      home = s.findFirst().orElseThrow();
    }
  }

  private record Run(int code, String output) {}

  private static Run distill(Path cwd, String... args) throws IOException, InterruptedException {
    return distill(cwd, java.util.Map.of(), args);
  }

  private static Run distill(Path cwd, java.util.Map<String, String> env, String... args)
      throws IOException, InterruptedException {
    List<String> cmd = new java.util.ArrayList<>();
    cmd.add(home.resolve("bin/distill").toString());
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true);
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    return new Run(p.exitValue(), out);
  }

  @Test
  void layoutHasTheLauncherTheLibrariesAndTheConfiguration() {
    assertThat(home.resolve("bin/distill")).isExecutable();
    assertThat(home.resolve("conf/pipeline.conf")).isRegularFile();
    assertThat(home.resolve("lib"))
        .isDirectoryContaining(p -> p.getFileName().toString().startsWith("deploy-"));
    assertThat(home.resolve("lib"))
        .isDirectoryContaining(p -> p.getFileName().toString().startsWith("pytorch-native-cpu"));
  }

  @Test
  void launcherRunsFromAnyDirectory() throws Exception {
    Path elsewhere = Files.createDirectories(unpackDir.resolve("elsewhere"));
    Run help = distill(elsewhere, "--help");
    assertThat(help.code()).as(help.output()).isZero();
    assertThat(help.output()).contains("demo", "eval");
    Run usage = distill(elsewhere, "demo", "--set", "nope=1");
    assertThat(usage.code()).as(usage.output()).isEqualTo(2);
    assertThat(usage.output()).contains("nope");
  }

  @Test
  void shippedConfigurationIsAcceptedByTheDemo() throws Exception {
    Run r =
        distill(
            unpackDir, "demo", "--config", home.resolve("conf/pipeline.conf").toString(), "--help");
    assertThat(r.code()).as(r.output()).isZero();
  }
}
