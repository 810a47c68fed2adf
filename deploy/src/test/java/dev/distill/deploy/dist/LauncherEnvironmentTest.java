package dev.distill.deploy.dist;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The distribution's {@code bin/distill} hands the JVM {@code OMP_WAIT_POLICY=PASSIVE} unless the
 * user set it (libtorch's spinning OpenMP threads slowed the teacher ~4x on a loaded machine). Runs
 * the real script with {@code JAVA_HOME} pointing at a stand-in {@code java} that prints the
 * variable, so no JVM or build is needed.
 */
class LauncherEnvironmentTest {
  @TempDir Path tmp;

  @Test
  void launcherSetsPassiveOpenMpWaitUnlessTheUserChoseOne() throws Exception {
    Path bin = Files.createDirectories(tmp.resolve("dist/bin"));
    Files.copy(Path.of("src/dist/bin/distill"), bin.resolve("distill"));
    Path java = Files.createDirectories(tmp.resolve("jdk/bin")).resolve("java");
    Files.writeString(java, "#!/usr/bin/env bash\necho \"omp=${OMP_WAIT_POLICY:-unset}\"\n");
    Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));

    assertThat(launch(bin, Map.of())).contains("omp=PASSIVE");
    assertThat(launch(bin, Map.of("OMP_WAIT_POLICY", "ACTIVE"))).contains("omp=ACTIVE");
  }

  private String launch(Path bin, Map<String, String> env) throws Exception {
    ProcessBuilder pb =
        new ProcessBuilder("bash", bin.resolve("distill").toString(), "--help")
            .directory(tmp.toFile())
            .redirectErrorStream(true);
    pb.environment().remove("OMP_WAIT_POLICY");
    pb.environment().put("JAVA_HOME", tmp.resolve("jdk").toString());
    pb.environment().putAll(env);
    Process p = pb.start();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.exitValue()).as(out).isZero();
    return out;
  }
}
