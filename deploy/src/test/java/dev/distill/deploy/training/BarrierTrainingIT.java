package dev.distill.deploy.training;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import dev.distill.deploy.cli.CuratedFixture;
import dev.distill.deploy.config.ConfigKeys;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.spark.training.BarrierTrainJob;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.trainer.distributed.DataParallelStudentTrainer;
import dev.distill.trainer.io.TrainingCheckpoints;
import dev.distill.training.spi.TrainSummary;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code distill train --spark} end to end on real components: soft labels from a (tiny, random)
 * DJL teacher written as Parquet, curated by the real CurateJob, then the KD student trained by
 * {@link BarrierTrainJob} in Spark barrier execution mode on {@code local[2]}, one DJL trainer per
 * barrier task, loaded through ServiceLoader.
 */
class BarrierTrainingIT {
  static final int BLOCK = 32;
  static final int STEPS = 8;
  static final int BATCH = 8;

  @TempDir static Path tmp;
  static SparkSession spark;
  static Path curated;
  static Path tokenizerFile;

  @BeforeAll
  static void labelAndCurate() throws IOException {
    spark =
        SparkSession.builder()
            .master("local[2]")
            .appName("barrier-training-it")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .getOrCreate();
    String text = CuratedFixture.corpus(40_000);
    CharTokenizer tokenizer = CharTokenizer.fromCorpus(text);
    int[] tokens = tokenizer.encode(text);
    tokenizerFile = tmp.resolve("tokenizer.json");
    tokenizer.save(tokenizerFile);
    try (LanguageModel teacher =
        LanguageModel.create(
            new GptConfig(tokenizer.vocabSize(), BLOCK, 1, 2, 32, 0f), tokenizer, 7L)) {
      curated =
          CuratedFixture.labelAndCurate(
              tmp, teacher, "it-teacher", tokens, 80, 300, BLOCK, new LabelingConfig(4, 2.0f, 32));
    }
  }

  @AfterAll
  static void stop() {
    if (spark != null) {
      spark.stop();
    }
  }

  static Map<String, String> options(String output, String sync) {
    Map<String, String> o = new LinkedHashMap<>(ConfigKeys.defaults(true));
    o.put("model.block-size", Integer.toString(BLOCK));
    o.put("student.layers", "1");
    o.put("student.heads", "2");
    o.put("student.embd", "32");
    o.put("student.steps", Integer.toString(STEPS));
    o.put("student.batch", Integer.toString(BATCH));
    o.put("train.spark.sync", sync);
    o.put("train.spark.average-every", "4");
    o.put("curated", curated.toString());
    o.put("tokenizer", tokenizerFile.toString());
    o.put("output", output);
    return o;
  }

  static float[] parameters(Path checkpoint) throws IOException {
    try (LanguageModel m = Checkpoints.load(checkpoint)) {
      return flatten(m);
    }
  }

  static float[] flatten(LanguageModel m) {
    List<float[]> parts = new ArrayList<>();
    int n = 0;
    for (Pair<String, Parameter> p : m.block().getParameters()) {
      float[] a = p.getValue().getArray().toFloatArray();
      parts.add(a);
      n += a.length;
    }
    float[] out = new float[n];
    int at = 0;
    for (float[] a : parts) {
      System.arraycopy(a, 0, out, at, a.length);
      at += a.length;
    }
    return out;
  }

  static double maxAbsDiff(float[] a, float[] b) {
    assertThat(a).hasSameSizeAs(b);
    double d = 0;
    for (int i = 0; i < a.length; i++) {
      d = Math.max(d, Math.abs(a[i] - b[i]));
    }
    return d;
  }

  static double l2(float[] a, float[] b) {
    double sq = 0;
    for (int i = 0; i < a.length; i++) {
      sq += (double) (a[i] - b[i]) * (a[i] - b[i]);
    }
    return Math.sqrt(sq);
  }

  static TrainSummary run(int workers, Map<String, String> options) {
    List<TrainSummary> s =
        BarrierTrainJob.run("local[2]", DataParallelStudentTrainer.NAME, workers, options);
    assertThat(s).hasSize(workers);
    return s.get(0);
  }

  @Test
  void allReduceEveryStepWithTwoWorkersGivesTheModelOfOneWorkerOnTheSameGlobalBatch()
      throws IOException {
    Path one = tmp.resolve("one");
    Path two = tmp.resolve("two");
    TrainSummary s1 = run(1, options(one.toString(), "allreduce"));
    List<TrainSummary> s2 =
        BarrierTrainJob.run(
            "local[2]", DataParallelStudentTrainer.NAME, 2, options(two.toString(), "allreduce"));

    float[] p1 = parameters(one);
    float[] p2 = parameters(two);
    float[] init;
    try (LanguageModel m = Checkpoints.load(one)) {
      try (LanguageModel fresh =
          LanguageModel.create(
              (GptConfig) m.config(),
              m.tokenizer(),
              Long.parseLong(options("", "").get("run.seed")))) {
        init = flatten(fresh);
      }
    }
    // (a) one worker accumulating the same 2 micro-batches per step (train.accumulation-steps):
    // the same per-micro-batch gradients, summed in the same order, scaled by the same power of 2.
    Path oneAccumulating = tmp.resolve("one-accumulating");
    Map<String, String> acc = options(oneAccumulating.toString(), "allreduce");
    acc.put("train.accumulation-steps", "2");
    run(1, acc);
    double accumulatingDiff = maxAbsDiff(parameters(oneAccumulating), p2);
    double moved = maxAbsDiff(p1, init);
    double diff = maxAbsDiff(p1, p2);
    double relative = l2(p1, p2) / l2(p1, init);
    System.out.printf(
        "[barrier-it] allreduce: params moved by up to %.3e from init; 1 vs 2 workers differ by"
            + " up to %.3e (relative L2 %.2e); val loss %.6f vs %.6f%n",
        moved, diff, relative, s1.valLoss(), s2.get(0).valLoss());
    System.out.printf(
        "[barrier-it] allreduce: 2 workers vs 1 worker accumulating 2 micro-batches: params differ"
            + " by up to %.3e%n",
        accumulatingDiff);
    assertThat(moved).isGreaterThan(1e-3); // training happened, so equality is not vacuous
    // (a) bit for bit: the data-parallel run is the single-process run with W micro-batches
    assertThat(accumulatingDiff).isEqualTo(0.0);
    // (b) one batch of 8: libtorch reduces over 8 sequences at once, not 4 + 4
    // The summed gradients differ from one worker's in float rounding only (measured 1.218e-6,
    // relative L2 1.9e-6; StandaloneClusterIT.EXACT_BOUND says why it is above 1e-6).
    assertThat(diff).isLessThan(StandaloneClusterIT.EXACT_BOUND);
    assertThat(relative).isLessThan(1e-5);
    assertThat(s2.get(0).valLoss())
        .isCloseTo(s1.valLoss(), org.assertj.core.data.Offset.offset(1e-4));
    // Both workers trained on half of the global batch each: same token count in total.
    assertThat(s2.get(0).tokens() + s2.get(1).tokens()).isEqualTo(s1.tokens());
    // One exchange per step of every gradient plus one token-count slot per worker (equal counts:
    // no second exchange); one more for the start check.
    long perSync = 4L * (p1.length + 2);
    assertThat(s2.get(0).syncs()).isEqualTo(STEPS);
    assertThat(s2.get(0).bytesSent()).isEqualTo(STEPS * perSync + 4);
  }

  @Test
  void averagingEveryHStepsReportsValLossBesideSingleProcessAtEqualTokens() throws IOException {
    TrainSummary single = run(1, options(tmp.resolve("single").toString(), "allreduce"));
    List<TrainSummary> avg =
        BarrierTrainJob.run(
            "local[2]",
            DataParallelStudentTrainer.NAME,
            2,
            options(tmp.resolve("avg").toString(), "average"));
    long avgTokens = avg.stream().mapToLong(TrainSummary::tokens).sum();
    System.out.printf(
        "[barrier-it] at %d tokens: single-process val loss %.4f, 2 workers averaging every 4"
            + " steps %.4f%n",
        single.tokens(), single.valLoss(), avg.get(0).valLoss());
    assertThat(avgTokens).isEqualTo(single.tokens());
    // Both workers end on the same (averaged) parameters, so they report the same val loss.
    assertThat(avg.get(1).valLoss()).isEqualTo(avg.get(0).valLoss());
    assertThat(avg.get(0).valLoss()).isFinite();
    // 8 steps, H = 4: parameters exchanged after steps 4 and 8 only.
    assertThat(avg.get(0).syncs()).isEqualTo(2);
    float[] p = parameters(tmp.resolve("avg"));
    assertThat(avg.get(0).bytesSent()).isEqualTo(2 * 4L * p.length + 4);
    // Local SGD is a different optimiser: it must not silently fall back to every-step sync.
    assertThat(maxAbsDiff(p, parameters(tmp.resolve("single")))).isGreaterThan(1e-5);
  }

  @Test
  void dilocoTrainsTwoWorkersToAFiniteDecreasingValLossWithOneExchangePerInnerRound()
      throws IOException {
    // H = 4: one outer step after 4 inner steps, against four outer steps after 16.
    Map<String, String> shortRun = options(tmp.resolve("diloco-4").toString(), "diloco");
    shortRun.put("train.spark.inner-steps", "4");
    shortRun.put("student.steps", "4");
    Map<String, String> longRun = new LinkedHashMap<>(shortRun);
    longRun.put("output", tmp.resolve("diloco-16").toString());
    longRun.put("student.steps", "16");
    List<TrainSummary> a =
        BarrierTrainJob.run("local[2]", DataParallelStudentTrainer.NAME, 2, shortRun);
    List<TrainSummary> b =
        BarrierTrainJob.run("local[2]", DataParallelStudentTrainer.NAME, 2, longRun);
    System.out.printf(
        "[barrier-it] diloco H=4, 2 workers: val loss %.4f after 4 steps, %.4f after 16%n",
        a.get(0).valLoss(), b.get(0).valLoss());
    assertThat(b.get(0).valLoss()).isFinite().isLessThan(a.get(0).valLoss());
    // After the outer step both workers hold θ_start: the same val loss.
    assertThat(b.get(1).valLoss()).isEqualTo(b.get(0).valLoss());
    assertThat(b.get(0).syncs()).isEqualTo(4);
    float[] p = parameters(tmp.resolve("diloco-16"));
    // every outer step sends every parameter's delta once; 4 more bytes for the start check
    assertThat(b.get(0).bytesSent()).isEqualTo(4 * 4L * p.length + 4);
    assertThat(Checkpoints.metadata(tmp.resolve("diloco-16")).get("training"))
        .contains("sync diloco (H = 4 inner steps, outer Nesterov lr 0.7, momentum 0.9)");
  }

  @Test
  void distillTrainSparkWritesTheCheckpointAndItsConfigWithoutSecrets() throws IOException {
    Path out = tmp.resolve("cli-student");
    int code =
        distillTrain(
            out,
            "--spark",
            "--set",
            "student.steps=2",
            "--set",
            "teacher.api-token=do-not-print-me");
    assertThat(code).isZero();
    assertThat(out.resolve(Checkpoints.MANIFEST)).isRegularFile();
    String config = java.nio.file.Files.readString(tmp.resolve("cli-student.config.properties"));
    assertThat(config).contains("train.spark.workers = 2").contains("student.steps = 2");
    assertThat(config).doesNotContain("do-not-print-me").doesNotContain("teacher.api-token");
  }

  @Test
  void distillTrainSparkStopsAfterACheckpointAndResumesThroughTheCommandLine() throws IOException {
    Path out = tmp.resolve("cli-resume");
    String[] common = {"--spark", "--set", "student.steps=2", "--set", "train.checkpoint-every=1"};
    List<String> stop = new ArrayList<>(List.of(common));
    stop.addAll(List.of("--stop-after", "1"));
    assertThat(distillTrain(out, stop.toArray(String[]::new))).isZero();
    assertThat(out.resolve(Checkpoints.MANIFEST)).doesNotExist(); // stopped: no final model
    Path checkpoints = tmp.resolve("cli-resume.checkpoints");
    assertThat(checkpoints.resolve("step-00000001")).isDirectory();

    List<String> resume = new ArrayList<>(List.of(common));
    resume.add("--resume");
    assertThat(distillTrain(out, resume.toArray(String[]::new))).isZero();
    assertThat(Checkpoints.metadata(out)).containsEntry("resumed-at.step", "1");
    assertThat(TrainingCheckpoints.list(checkpoints))
        .extracting(p -> p.getFileName().toString())
        .containsExactly("step-00000002", "step-00000001");
  }

  /** {@code distill train} of a 1-layer, 32-wide student, batch 4, on the curated fixture. */
  static int distillTrain(Path out, String... extra) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "train",
                "--curated",
                curated.toString(),
                "--tokenizer",
                tokenizerFile.toString(),
                "--output",
                out.toString(),
                "--set",
                "model.block-size=" + BLOCK,
                "--set",
                "student.layers=1",
                "--set",
                "student.embd=32",
                "--set",
                "student.batch=4"));
    args.addAll(List.of(extra));
    return dev.distill.deploy.cli.DistillCli.execute(args.toArray(String[]::new));
  }

  /** In-process: 6 steps with jsd:0.5, a checkpoint every 3. */
  static int trainInProcess(Path out, String... extra) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "--set",
                "student.steps=6",
                "--set",
                "train.checkpoint-every=3",
                "--set",
                "train.divergence=jsd:0.5"));
    args.addAll(List.of(extra));
    return distillTrain(out, args.toArray(String[]::new));
  }

  static Map<String, String> lossFile(Path out) throws IOException {
    Map<String, String> m = new LinkedHashMap<>();
    for (String line :
        java.nio.file.Files.readAllLines(
            out.resolveSibling(out.getFileName() + ".loss.properties"))) {
      int eq = line.indexOf(" = ");
      if (!line.startsWith("#") && eq > 0) {
        m.put(line.substring(0, eq), line.substring(eq + 3));
      }
    }
    return m;
  }

  @Test
  void distillTrainStoppedAfterACheckpointResumesToTheUninterruptedRun() throws IOException {
    Path whole = tmp.resolve("local-whole");
    assertThat(trainInProcess(whole)).isZero();

    Path split = tmp.resolve("local-split");
    assertThat(trainInProcess(split, "--stop-after", "3")).isZero();
    assertThat(split.resolve(Checkpoints.MANIFEST)).doesNotExist(); // stopped: no final model
    assertThat(tmp.resolve("local-split.checkpoints")).isDirectory();
    assertThat(trainInProcess(split, "--resume")).isZero();

    Map<String, String> a = lossFile(whole);
    Map<String, String> b = lossFile(split);
    assertThat(a.get("loss.divergence")).isEqualTo("jsd:0.5");
    assertThat(a.get("final.step")).isEqualTo("6");
    assertThat(a.get("resumed-at.step")).isEqualTo("0");
    assertThat(b.get("resumed-at.step")).isEqualTo("3"); // it did resume, not start over
    assertThat(b.get("final.val-loss")).isEqualTo(a.get("final.val-loss"));
    assertThat(b.get("final.train-loss")).isEqualTo(a.get("final.train-loss"));
    assertThat(maxAbsDiff(parameters(split), parameters(whole))).isZero();

    // Metrics as JSON lines next to the output; the resumed run appended to the stopped one's.
    List<com.google.gson.JsonObject> wholeMetrics = metricsLines(whole);
    List<com.google.gson.JsonObject> splitMetrics = metricsLines(split);
    com.google.gson.JsonObject lastWhole = wholeMetrics.get(wholeMetrics.size() - 1);
    com.google.gson.JsonObject lastSplit = splitMetrics.get(splitMetrics.size() - 1);
    assertThat(lastWhole.get("step").getAsInt()).isEqualTo(6);
    assertThat(lastWhole.get("total_steps").getAsInt()).isEqualTo(6);
    assertThat(lastWhole.get("val_loss").isJsonNull()).isFalse();
    assertThat(lastSplit.get("step").getAsInt()).isEqualTo(6);
    assertThat(lastSplit.get("train_loss").getAsDouble())
        .isEqualTo(lastWhole.get("train_loss").getAsDouble());
  }

  static List<com.google.gson.JsonObject> metricsLines(Path out) throws IOException {
    return java.nio.file.Files.readAllLines(
            out.resolveSibling(out.getFileName() + ".metrics.jsonl"))
        .stream()
        .map(l -> com.google.gson.JsonParser.parseString(l).getAsJsonObject())
        .toList();
  }

  @Test
  void distillTrainAccumulatesMicroBatchesAndStopsEarlyWithTheBestPass() throws IOException {
    // 10 steps: validation every 2. With min-delta 100 no pass after the first improves, so
    // patience 1 stops at the second pass (step 4) and keeps step 2's parameters.
    Path out = tmp.resolve("local-early");
    assertThat(
            distillTrain(
                out,
                "--set",
                "student.steps=10",
                "--set",
                "train.accumulation-steps=2",
                "--set",
                "train.patience=1",
                "--set",
                "train.min-delta=100"))
        .isZero();
    Map<String, String> m = lossFile(out);
    assertThat(m.get("best.step")).isEqualTo("2");
    assertThat(m.get("stopped-early-at.step")).isEqualTo("4");
    List<com.google.gson.JsonObject> metrics = metricsLines(out);
    com.google.gson.JsonObject event = metrics.get(metrics.size() - 1);
    assertThat(event.get("event").getAsString()).isEqualTo("early_stop");
    assertThat(event.get("best_step").getAsInt()).isEqualTo(2);
    assertThat(m.get("final.step")).isEqualTo("4");
    assertThat(out.resolve(Checkpoints.MANIFEST)).exists();
    String config =
        java.nio.file.Files.readString(
            out.resolveSibling(out.getFileName() + ".config.properties"));
    assertThat(config).contains("train.accumulation-steps = 2").contains("train.patience = 1");
  }

  @Test
  void sparkTrainingStoppedAfterACheckpointResumesToTheUninterruptedRun() throws IOException {
    Path whole = tmp.resolve("dp-whole");
    Map<String, String> w = options(whole.toString(), "allreduce");
    w.put("checkpoints", tmp.resolve("dp-whole.checkpoints").toString());
    w.put("train.checkpoint-every", "4");
    TrainSummary uninterrupted = run(2, w);

    Path split = tmp.resolve("dp-split");
    Map<String, String> o = options(split.toString(), "allreduce");
    Path checkpoints = tmp.resolve("dp-split.checkpoints");
    o.put("checkpoints", checkpoints.toString());
    o.put("train.checkpoint-every", "4");
    o.put("stop-after", "4");
    TrainSummary stopped = run(2, o);
    assertThat(stopped.output()).isEmpty(); // stopped: no final model, as a kill leaves it
    assertThat(stopped.steps()).isEqualTo(4);
    assertThat(split.resolve(Checkpoints.MANIFEST)).doesNotExist();
    assertThat(TrainingCheckpoints.list(checkpoints))
        .extracting(p -> p.getFileName().toString())
        .containsExactly("step-00000004");

    o.remove("stop-after");
    o.put("resume", "true");
    List<TrainSummary> resumed =
        BarrierTrainJob.run("local[2]", DataParallelStudentTrainer.NAME, 2, o);

    float[] a = parameters(whole);
    float[] b = parameters(split);
    double diff = maxAbsDiff(a, b);
    System.out.printf(
        "[barrier-it] resume: 2 workers, 8 steps uninterrupted vs 4 + resume to 8: params differ"
            + " by up to %.3e; val loss %.6f vs %.6f%n",
        diff, uninterrupted.valLoss(), resumed.get(0).valLoss());
    // it did resume
    assertThat(Checkpoints.metadata(split)).containsEntry("resumed-at.step", "4");
    // The resumed workers ran 4 steps each after loading step 4, not 8 from scratch.
    assertThat(resumed.get(0).syncs()).isEqualTo(STEPS - 4);
    // Every worker recounts its tokens from the global cursor: totals match the whole run.
    assertThat(resumed.get(0).tokens()).isEqualTo(uninterrupted.tokens());
    assertThat(diff).isLessThan(1e-6);
    assertThat(resumed.get(0).valLoss())
        .isCloseTo(uninterrupted.valLoss(), org.assertj.core.data.Offset.offset(1e-6));
  }

  @Test
  void dilocoStoppedAfterAnOuterStepCheckpointResumesToTheUninterruptedRun() throws IOException {
    // H = 4, 16 steps, a checkpoint every 4: stop after step 8 (two outer steps, so the outer
    // velocity is non-zero and each worker's inner AdamW moments are its own), then resume.
    Path whole = tmp.resolve("diloco-whole");
    Map<String, String> w = options(whole.toString(), "diloco");
    w.put("train.spark.inner-steps", "4");
    w.put("student.steps", "16");
    w.put("train.checkpoint-every", "4");
    w.put("checkpoints", tmp.resolve("diloco-whole.checkpoints").toString());
    List<TrainSummary> uninterrupted =
        BarrierTrainJob.run("local[2]", DataParallelStudentTrainer.NAME, 2, w);

    Path split = tmp.resolve("diloco-split");
    Path checkpoints = tmp.resolve("diloco-split.checkpoints");
    Map<String, String> o = new LinkedHashMap<>(w);
    o.put("output", split.toString());
    o.put("checkpoints", checkpoints.toString());
    o.put("stop-after", "8");
    BarrierTrainJob.run("local[2]", DataParallelStudentTrainer.NAME, 2, o);
    assertThat(split.resolve(Checkpoints.MANIFEST)).doesNotExist();
    // Each worker's outer and inner state beside the (kept) checkpoints of steps 4 and 8.
    assertThat(checkpoints.resolve("diloco-step-00000008-rank-0.bin")).isRegularFile();
    assertThat(checkpoints.resolve("diloco-step-00000008-rank-1.bin")).isRegularFile();

    o.remove("stop-after");
    o.put("resume", "true");
    List<TrainSummary> resumed =
        BarrierTrainJob.run("local[2]", DataParallelStudentTrainer.NAME, 2, o);
    double diff = maxAbsDiff(parameters(whole), parameters(split));
    System.out.printf(
        "[barrier-it] diloco resume: 2 workers, H = 4, 16 steps uninterrupted vs 8 + resume to"
            + " 16: params differ by up to %.3e; val loss %.8f vs %.8f%n",
        diff, uninterrupted.get(0).valLoss(), resumed.get(0).valLoss());
    assertThat(Checkpoints.metadata(split)).containsEntry("resumed-at.step", "8");
    assertThat(resumed.get(0).syncs()).isEqualTo(2); // outer steps after 12 and 16 only
    assertThat(diff).isLessThan(1e-6);
    assertThat(resumed.get(0).valLoss())
        .isCloseTo(uninterrupted.get(0).valLoss(), org.assertj.core.data.Offset.offset(1e-6));
  }

  @Test
  void dilocoResumeWithoutAWorkersStateFileFailsNamingIt() throws IOException {
    Path out = tmp.resolve("diloco-missing");
    Path checkpoints = tmp.resolve("diloco-missing.checkpoints");
    Map<String, String> o = options(out.toString(), "diloco");
    o.put("train.spark.inner-steps", "4");
    o.put("train.checkpoint-every", "4");
    o.put("checkpoints", checkpoints.toString());
    o.put("stop-after", "4");
    BarrierTrainJob.run("local[2]", DataParallelStudentTrainer.NAME, 2, o);
    java.nio.file.Files.delete(checkpoints.resolve("diloco-step-00000004-rank-1.bin"));
    o.remove("stop-after");
    o.put("resume", "true");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> BarrierTrainJob.run("local[2]", DataParallelStudentTrainer.NAME, 2, o))
        .hasStackTraceContaining("diloco-step-00000004-rank-1.bin")
        .hasStackTraceContaining("is missing");
  }

  @Test
  void sparkTrainingUsesTheConfiguredDivergence() throws IOException {
    Path forward = tmp.resolve("dp-forward");
    Path reverse = tmp.resolve("dp-reverse");
    Map<String, String> f = options(forward.toString(), "allreduce");
    Map<String, String> r = options(reverse.toString(), "allreduce");
    f.put("train.divergence", "forward_kl");
    r.put("train.divergence", "reverse_kl");
    TrainSummary sf = run(2, f);
    TrainSummary sr = run(2, r);
    double diff = maxAbsDiff(parameters(forward), parameters(reverse));
    System.out.printf(
        "[barrier-it] divergence: forward_kl val loss %.6f, reverse_kl %.6f; params differ by up"
            + " to %.3e%n",
        sf.valLoss(), sr.valLoss(), diff);
    assertThat(Checkpoints.metadata(reverse)).containsEntry("loss.divergence", "reverse_kl");
    // Same seed, same data: only the loss differs, so the gradients and the model must differ.
    assertThat(diff).isGreaterThan(1e-5);
    // The val loss is measured with each run's own divergence; on this near-uniform tiny student
    // the two differ by about 1e-4 (1.912178 vs 1.912049 measured), so only inequality is checked.
    assertThat(sr.valLoss()).isNotEqualTo(sf.valLoss());
  }
}
