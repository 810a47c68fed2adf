package dev.distill.trainer.training;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.trainer.io.TrainingCheckpoints;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real training JVM is killed with SIGKILL ({@link Process#destroyForcibly}) after its first
 * checkpoint and before its second; a new JVM resumes from the checkpoint and must produce, step by
 * step, the same losses as a JVM that ran uninterrupted.
 */
class ResumeAfterKillIT {
  private static final int STEPS = 30;
  private static final int EVERY = 10;

  @TempDir Path tmp;

  private static Process child(Path dir, Path losses, boolean resume, long sleepMs)
      throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>();
    cmd.add(java);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(ResumeChild.class.getName());
    cmd.add(dir.toString());
    cmd.add(losses.toString());
    cmd.add(Integer.toString(STEPS));
    cmd.add(Integer.toString(EVERY));
    cmd.add(Boolean.toString(resume));
    cmd.add(Long.toString(sleepMs));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("DJL_OFFLINE", "true");
    pb.redirectOutput(dir.resolveSibling(dir.getFileName() + ".log").toFile());
    return pb.start();
  }

  private static Map<Integer, Long> read(Path losses) throws IOException {
    Map<Integer, Long> out = new LinkedHashMap<>();
    if (!Files.exists(losses)) {
      return out;
    }
    for (String line : Files.readAllLines(losses, StandardCharsets.UTF_8)) {
      String[] f = line.split(" ");
      if (f.length == 3) { // a line cut by the kill has fewer fields
        out.put(Integer.parseInt(f[0]), Long.parseLong(f[1]));
      }
    }
    return out;
  }

  private static void awaitExit(Process p, Path log) throws Exception {
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("child finished").isTrue();
    assertThat(p.exitValue()).as(Files.readString(log)).isZero();
  }

  @Test
  void resumedRunAfterSigkillHasTheUninterruptedRunsLosses() throws Exception {
    Path ref = tmp.resolve("ref");
    Path refLosses = tmp.resolve("ref.losses");
    awaitExit(child(ref, refLosses, false, 0), tmp.resolve("ref.log"));
    Map<Integer, Long> expected = read(refLosses);
    assertThat(expected).hasSize(STEPS);

    Path run = tmp.resolve("run");
    Path runLosses = tmp.resolve("run.losses");
    Process victim = child(run, runLosses, false, 150);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (read(runLosses).size() < EVERY + 3 && System.nanoTime() < deadline) {
      assertThat(victim.isAlive()).as("child died before the kill").isTrue();
      Thread.sleep(20);
    }
    victim.destroyForcibly(); // SIGKILL on Linux: no shutdown hooks, no flushing
    victim.waitFor(30, TimeUnit.SECONDS);
    Map<Integer, Long> beforeKill = read(runLosses);
    assertThat(beforeKill.size()).as("killed mid-run").isBetween(EVERY + 3, 2 * EVERY - 1);
    assertThat(TrainingCheckpoints.list(run))
        .extracting(p -> p.getFileName().toString())
        .containsExactly("step-00000010");

    Path resumedLosses = tmp.resolve("resumed.losses");
    awaitExit(child(run, resumedLosses, true, 0), tmp.resolve("run.log"));
    Map<Integer, Long> resumed = read(resumedLosses);
    assertThat(resumed.keySet()).first().isEqualTo(EVERY + 1); // continued after the checkpoint
    assertThat(resumed).hasSize(STEPS - EVERY);
    for (Map.Entry<Integer, Long> e : resumed.entrySet()) {
      double got = Double.longBitsToDouble(e.getValue());
      double want = Double.longBitsToDouble(expected.get(e.getKey()));
      assertThat(Math.abs(got - want))
          .as("step %d: %s vs %s", e.getKey(), got, want)
          .isLessThan(1e-6);
    }
    // the steps before the kill also matched the reference (same seed, same JVM setup)
    for (Map.Entry<Integer, Long> e : beforeKill.entrySet()) {
      assertThat(e.getValue()).as("step %d", e.getKey()).isEqualTo(expected.get(e.getKey()));
    }
    assertThat(new File(run.toFile(), "step-00000030")).isDirectory();
  }
}
