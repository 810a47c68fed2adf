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
 * The distribution's {@code bin/distill} hands the JVM {@code GOMP_SPINCOUNT=1000} (libtorch's
 * OpenMP workers spin about 10 us before they sleep, instead of libgomp's 3 ms default that slowed
 * the teacher ~4x on a loaded machine) unless the user chose a wait policy or spin count. Runs the
 * real script with {@code JAVA_HOME} pointing at a stand-in {@code java} that prints the variable,
 * so no JVM or build is needed.
 */
class LauncherEnvironmentTest {
  @TempDir Path tmp;

  @Test
  void launcherSetsAShortOpenMpSpinUnlessTheUserChoseAPolicyOrSpinCount() throws Exception {
    Path bin = Files.createDirectories(tmp.resolve("dist/bin"));
    Files.copy(Path.of("src/dist/bin/distill"), bin.resolve("distill"));
    Path java = Files.createDirectories(tmp.resolve("jdk/bin")).resolve("java");
    Files.writeString(
        java,
        "#!/usr/bin/env bash\necho \"omp=${OMP_WAIT_POLICY:-unset} spin=${GOMP_SPINCOUNT:-unset}\"\n");
    Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));

    assertThat(launch(bin, Map.of())).contains("omp=unset spin=1000");
    assertThat(launch(bin, Map.of("OMP_WAIT_POLICY", "ACTIVE"))).contains("omp=ACTIVE spin=unset");
    assertThat(launch(bin, Map.of("GOMP_SPINCOUNT", "50"))).contains("omp=unset spin=50");
  }

  private String launch(Path bin, Map<String, String> env) throws Exception {
    ProcessBuilder pb =
        new ProcessBuilder("bash", bin.resolve("distill").toString(), "--help")
            .directory(tmp.toFile())
            .redirectErrorStream(true);
    pb.environment().remove("OMP_WAIT_POLICY");
    pb.environment().remove("GOMP_SPINCOUNT");
    pb.environment().put("JAVA_HOME", tmp.resolve("jdk").toString());
    pb.environment().putAll(env);
    Process p = pb.start();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.exitValue()).as(out).isZero();
    return out;
  }
}
