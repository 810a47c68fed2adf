package dev.distill.deploy.training;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.deploy.cli.DistillCli;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.schemas.distributed.TrainSummary;
import dev.distill.spark.cluster.StandaloneCluster;
import dev.distill.spark.training.BarrierTrainJob;
import dev.distill.trainer.distributed.DataParallelStudentTrainer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 16, ask 1: a real Spark standalone cluster (a Master and 2 Workers with 1 core each, as
 * separate JVMs started by {@link StandaloneCluster} from this class path) runs the barrier
 * training with each worker in its own executor JVM. The cluster is stopped in {@link #stop} in all
 * cases, and the test checks that none of its JVMs is left.
 */
class StandaloneClusterIT {
  @TempDir static Path tmp;
  static Path state;
  static String url;
  static List<Long> pids = List.of();

  @BeforeAll
  static void curateThenStartCluster() throws IOException {
    // The curated fixture of BarrierTrainingIT, made on local[2]; that session is stopped so the
    // training below starts its own on the cluster.
    BarrierTrainingIT.tmp = tmp;
    BarrierTrainingIT.labelAndCurate();
    BarrierTrainingIT.spark.stop();
    SparkSession.clearActiveSession();
    SparkSession.clearDefaultSession();
    state = tmp.resolve("cluster");
    StandaloneCluster.Running r =
        StandaloneCluster.start(state, 2, 1, "2g", Duration.ofSeconds(240));
    url = r.masterUrl();
    pids = r.pids();
  }

  @AfterAll
  static void stop() throws IOException {
    if (state != null) {
      StandaloneCluster.stop(state);
    }
    for (long pid : pids) {
      assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
          .as("cluster JVM %d still running after stop", pid)
          .isFalse();
    }
  }

  @Test
  void barrierTrainingOnTwoOneCoreWorkersRunsEachWorkerInItsOwnExecutorJvm() throws IOException {
    assertThat(url).startsWith("spark://127.0.0.1:");
    assertThat(pids).hasSize(3); // master + 2 workers
    Path out = tmp.resolve("cluster-student");
    Map<String, String> o = BarrierTrainingIT.options(out.toString(), "allreduce");
    o.put("student.steps", "4");
    List<TrainSummary> s = BarrierTrainJob.run(url, DataParallelStudentTrainer.NAME, 2, o);
    System.out.printf(
        "[cluster-it] workers ran in: %s | %s%n", s.get(0).process(), s.get(1).process());
    assertThat(s).hasSize(2);
    assertThat(s.get(0).process()).startsWith("executor ");
    assertThat(s.get(1).process()).startsWith("executor ");
    // Two executors, two JVMs, neither of them this (driver) JVM.
    assertThat(executorId(s.get(0))).isNotEqualTo(executorId(s.get(1)));
    assertThat(pid(s.get(0))).isNotEqualTo(pid(s.get(1)));
    assertThat(List.of(pid(s.get(0)), pid(s.get(1)))).doesNotContain(ProcessHandle.current().pid());
    assertThat(s.get(0).valLoss()).isFinite();
    assertThat(s.get(1).valLoss()).isEqualTo(s.get(0).valLoss()); // all-reduced: same model
    assertThat(out.resolve(Checkpoints.MANIFEST)).isRegularFile();
  }

  @Test
  void distillClusterUrlAndTrainWithMasterUseTheRunningCluster() throws IOException {
    String printed =
        stdout(() -> DistillCli.execute("cluster", "url", "--state", state.toString()));
    assertThat(printed.trim()).isEqualTo(url);
    Path out = tmp.resolve("cli-cluster-student");
    int code =
        BarrierTrainingIT.distillTrain(out, "--spark", "--master", url, "--set", "student.steps=2");
    assertThat(code).isZero();
    assertThat(out.resolve(Checkpoints.MANIFEST)).isRegularFile();
    assertThat(Files.readString(tmp.resolve("cli-cluster-student.config.properties")))
        .contains("spark.master = " + url);
    // The applications ran on the Workers: their executor folders are there.
    assertThat(Files.list(state.resolve("worker-0")).count()).isPositive();
  }

  static String executorId(TrainSummary s) {
    return s.process().split(",")[0];
  }

  static long pid(TrainSummary s) {
    return Long.parseLong(s.process().replaceAll(".*pid ", "").trim());
  }

  static String stdout(java.util.function.IntSupplier run) {
    PrintStream before = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      assertThat(run.getAsInt()).isZero();
    } finally {
      System.setOut(before);
    }
    return buf.toString(StandardCharsets.UTF_8);
  }
}
