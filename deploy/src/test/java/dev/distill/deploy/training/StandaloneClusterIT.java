package dev.distill.deploy.training;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.deploy.cli.DistillCli;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.spark.cluster.StandaloneCluster;
import dev.distill.spark.training.BarrierTrainJob;
import dev.distill.trainer.distributed.DataParallelStudentTrainer;
import dev.distill.trainer.io.TrainingCheckpoints;
import dev.distill.training.spi.TrainSummary;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
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

  @Test
  void allReduceEveryStepOnTwoExecutorsEndsOnTheSingleProcessParametersAtTheSameGlobalBatch()
      throws IOException {
    Path one = tmp.resolve("exact-1");
    Path two = tmp.resolve("exact-2");
    TrainSummary s1 =
        BarrierTrainJob.run(
                url,
                DataParallelStudentTrainer.NAME,
                1,
                BarrierTrainingIT.options(one.toString(), "allreduce"))
            .get(0);
    List<TrainSummary> s2 =
        BarrierTrainJob.run(
            url,
            DataParallelStudentTrainer.NAME,
            2,
            BarrierTrainingIT.options(two.toString(), "allreduce"));
    // (a) one executor accumulating the same 2 micro-batches per step
    Path oneAccumulating = tmp.resolve("exact-1-accumulating");
    Map<String, String> acc = BarrierTrainingIT.options(oneAccumulating.toString(), "allreduce");
    acc.put("train.accumulation-steps", "2");
    BarrierTrainJob.run(url, DataParallelStudentTrainer.NAME, 1, acc);
    float[] p1 = BarrierTrainingIT.parameters(one);
    float[] p2 = BarrierTrainingIT.parameters(two);
    double diff = BarrierTrainingIT.maxAbsDiff(p1, p2);
    double accumulatingDiff =
        BarrierTrainingIT.maxAbsDiff(BarrierTrainingIT.parameters(oneAccumulating), p2);
    System.out.printf(
        "[cluster-it] exactness: 2 executors vs 1 executor accumulating 2 micro-batches: params"
            + " differ by up to %.3e%n",
        accumulatingDiff);
    System.out.printf(
        "[cluster-it] exactness: %d steps, batch %d, 1 executor vs 2 executors (%s | %s):"
            + " params differ by up to %.3e; val loss %.8f vs %.8f%n",
        BarrierTrainingIT.STEPS,
        BarrierTrainingIT.BATCH,
        s2.get(0).process(),
        s2.get(1).process(),
        diff,
        s1.valLoss(),
        s2.get(0).valLoss());
    assertThat(pid(s2.get(0))).isNotEqualTo(pid(s2.get(1)));
    assertThat(s2.get(0).tokens() + s2.get(1).tokens()).isEqualTo(s1.tokens());
    // (a) bit for bit: W workers are the single-process trainer with W micro-batches
    assertThat(accumulatingDiff).isEqualTo(0.0);
    // (b) one batch of 8: float32 rounding of a reduction over 8 sequences vs 4 + 4
    assertThat(diff).isLessThan(EXACT_BOUND);
  }

  /**
   * The bound on 1 vs 2 workers after {@link BarrierTrainingIT#STEPS} all-reduce steps, above the
   * issue's 1e-6. Measured 1.218e-6 here, on parameters that moved by about 8.8e-3, and the same
   * 1.218e-6 on {@code local[2]} (BarrierTrainingIT), so separate executor JVMs add nothing. Not a
   * bug in the exchange: the token-weighted sum of two half-batch gradients (each a float32
   * reduction by libtorch over 4 sequences) rounds differently from one float32 reduction over 8
   * (relative 1e-7), and AdamW's m / sqrt(v) can scale that rounding up to the step size (lr =
   * 2e-3) on coordinates whose gradient is near zero. The bound leaves headroom for another CPU's
   * kernels.
   */
  static final double EXACT_BOUND = 2e-6;

  /** Steps of the fault test: long enough that a kill after the first checkpoint is mid-run. */
  static final int FAULT_STEPS = 40;

  static final int FAULT_CHECKPOINT_EVERY = 5;

  static Map<String, String> faultOptions(Path out) {
    Map<String, String> o = BarrierTrainingIT.options(out.toString(), "allreduce");
    o.put("student.steps", Integer.toString(FAULT_STEPS));
    o.put("train.checkpoint-every", Integer.toString(FAULT_CHECKPOINT_EVERY));
    o.put("checkpoints", out + ".checkpoints");
    return o;
  }

  @Test
  void executorJvmKilledAfterTheFirstCheckpointIsRetriedByTheBarrierStageAndResumesToTheSameModel()
      throws Exception {
    Path whole = tmp.resolve("fault-whole");
    BarrierTrainJob.run(url, DataParallelStudentTrainer.NAME, 2, faultOptions(whole));

    Path killed = tmp.resolve("fault-killed");
    Path checkpoints = Path.of(killed + ".checkpoints");
    CompletableFuture<List<TrainSummary>> job =
        CompletableFuture.supplyAsync(
            () ->
                BarrierTrainJob.run(url, DataParallelStudentTrainer.NAME, 2, faultOptions(killed)));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
    while (TrainingCheckpoints.list(checkpoints).isEmpty()) {
      assertThat(job).as("the job ended before its first checkpoint").isNotDone();
      assertThat(System.nanoTime()).as("no checkpoint within 240 s").isLessThan(deadline);
      Thread.sleep(10);
    }
    // The executor JVMs are the Workers' children (pids 1 and 2 are the Workers).
    List<ProcessHandle> executors =
        pids.subList(1, pids.size()).stream()
            .flatMap(w -> ProcessHandle.of(w).stream())
            .flatMap(ProcessHandle::children)
            .filter(
                h ->
                    h.info()
                        .commandLine()
                        .orElse("")
                        .contains("org.apache.spark.executor.CoarseGrainedExecutorBackend"))
            .toList();
    assertThat(executors).hasSize(2);
    ProcessHandle victim = executors.get(0);
    String firstCheckpoint = TrainingCheckpoints.list(checkpoints).get(0).getFileName().toString();
    victim.destroyForcibly(); // SIGKILL, as kill -9
    System.out.printf(
        "[cluster-it] fault: killed executor pid %d after %s%n", victim.pid(), firstCheckpoint);
    List<TrainSummary> s = job.get(300, TimeUnit.SECONDS);

    int resumedAt = Integer.parseInt(Checkpoints.metadata(killed).get("resumed-at.step"));
    double diff =
        BarrierTrainingIT.maxAbsDiff(
            BarrierTrainingIT.parameters(whole), BarrierTrainingIT.parameters(killed));
    System.out.printf(
        "[cluster-it] fault: retried stage ran in %s | %s, resumed at step %d of %d; params vs"
            + " the uninterrupted run differ by up to %.3e%n",
        s.get(0).process(), s.get(1).process(), resumedAt, FAULT_STEPS, diff);
    // The retry ran in a new executor, not in the killed JVM.
    assertThat(List.of(pid(s.get(0)), pid(s.get(1)))).doesNotContain(victim.pid());
    // It resumed from a checkpoint rather than starting over, and the kill was mid-run.
    assertThat(resumedAt).isPositive().isLessThan(FAULT_STEPS);
    assertThat(resumedAt % FAULT_CHECKPOINT_EVERY).isZero();
    // Every step after the checkpoint is replayed on the same data: the same model.
    assertThat(diff).isLessThan(1e-6);
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
