package dev.distill.benchmarks.trainer;

import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.nn.LinearMode;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.schemas.codec.SampledSoftLabelCodec;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.trainer.data.Example;
import dev.distill.trainer.loss.DistillationLoss;
import dev.distill.trainer.training.Checkpointing;
import dev.distill.trainer.training.ProgressListener;
import dev.distill.trainer.training.SoftLabelBatches;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainingLoop;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Student quality at equal bytes per token (issue 15, ask 5): the same student trained on top-k +
 * tail labels (codec v1, at the two k whose bytes per token bracket the sampled labels': the
 * largest k at or below, and the next) and on sampled labels (codec v2, N draws per position;
 * Anshumann et al., ACL 2025), in interleaved rounds (k, k + 1, sampled, k, k + 1, sampled, ...),
 * one round per seed. Not a test: prints numbers.
 *
 * <p>Teacher: {@link CharTrigramTeacher} of the corpus' first 90% at T. Train data: windows of 64
 * positions at seeded offsets in the first 90%, labelled by the teacher and passed through the
 * codec (what a curated record would hold). Per label kind: bytes/token of the train labels; bias =
 * KL(p || E[label]) per held-out position (second half of the last 10%, {@link
 * SampledLabelsBenchmark}: top-k's tail read uniformly; sampled E = mean of R = 1000 draws on 200
 * positions); held-out loss = the student's next-character cross-entropy on the held-out text (T =
 * 1). Loss: pure KD ({@code alpha = 1}, forward KL at T, times T^2; sampled labels through {@code
 * SampledKd}). Each seed is both the student's initialisation and batch order and the draws of the
 * sampled labels.
 *
 * <p>Args: corpus, T (default 1), N (default 12), steps (default 300), seeds (default 3), train
 * windows (default 2000), student layers (default 2), width (default 64).
 */
public final class SampledLabelsQualityBenchmark {
  private static final int BLOCK = 64;

  private SampledLabelsQualityBenchmark() {}

  public static void main(String[] args) throws Exception {
    String text = Files.readString(Path.of(args[0]));
    double[] a = {1, 12, 300, 3, 2000, 2, 64};
    for (int i = 1; i < args.length && i <= a.length; i++) {
      a[i - 1] = Double.parseDouble(args[i]);
    }
    float t = (float) a[0];
    int n = (int) a[1];
    int steps = (int) a[2];
    int seeds = (int) a[3];
    int windows = (int) a[4];
    int layers = (int) a[5];
    int width = (int) a[6];
    CharTokenizer tok = CharTokenizer.fromCorpus(text);
    int[] ids = tok.encode(text);
    int split = (int) (ids.length * 0.9);
    CharTrigramTeacher teacher = new CharTrigramTeacher(ids, split, tok.vocabSize(), t);
    int v = teacher.vocab();
    int heldFrom = split + (ids.length - split) / 2;
    // the student is scored on the first 256 windows of 64 of the held-out text (16,385 ids)
    int[] held = Arrays.copyOfRange(ids, heldFrom, Math.min(ids.length, heldFrom + 256 * 64 + 1));
    float[][] heldP = teacher.rows(ids, heldFrom + 1, Math.min(20000, ids.length - heldFrom - 2));

    Random offsets = new Random(1234);
    int[] starts = new int[windows];
    float[][][] rows = new float[windows][][];
    for (int w = 0; w < windows; w++) {
      starts[w] = 1 + offsets.nextInt(split - BLOCK - 2);
      rows[w] = teacher.rows(ids, starts[w], BLOCK);
    }
    // bytes/token of the train labels: sampled (seed 1's draws) and every k up to 16; the two k
    // whose bytes/token bracket the sampled labels' are trained (the one below first)
    double sampledBytes = sampledExamples(ids, starts, rows, n, 1).bytesPerToken();
    int[] ks = {1, 2};
    for (int kk = 1; kk <= 16; kk++) {
      if (topKExamples(ids, starts, rows, kk).bytesPerToken() <= sampledBytes) {
        ks = new int[] {kk, kk + 1};
      }
    }
    double[] sampledBias = SampledLabelsBenchmark.sampled(heldP, n, v, new Random(1), 1000);
    // the teacher's own CE on the text the student is scored on (from its third character)
    double teacherCe = 0;
    int scored = Math.min(heldP.length, held.length - 2);
    for (int i = 0; i < scored; i++) {
      teacherCe -= Math.log(heldP[i][held[i + 2]]);
    }
    teacherCe /= scored;
    GptConfig gc = new GptConfig(v, BLOCK, layers, 2, width, 0f);
    System.out.printf(
        Locale.ROOT,
        "cpu: %s, %d cores; load average at start %.2f%n",
        cpuModel(),
        Runtime.getRuntime().availableProcessors(),
        ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    System.out.printf(
        Locale.ROOT,
        "teacher: char trigram, V=%d, T=%.1f, held-out CE at T (of the teacher itself) %.4f;"
            + " student %,d params (%d layers, width %d, block %d), %d steps x batch 32,"
            + " %d train windows, pure KD (alpha 1)%n",
        v,
        t,
        teacherCe,
        gc.parameterCount(),
        layers,
        width,
        BLOCK,
        steps,
        windows);
    List<List<Example>> topKTrain = new ArrayList<>();
    for (int k : ks) {
      topKTrain.add(topKExamples(ids, starts, rows, k).examples());
    }
    double[][] ce = new double[3][seeds];
    for (int s = 0; s < seeds; s++) {
      long seed = s + 1;
      StringBuilder line = new StringBuilder("seed " + seed + ":");
      for (int set = 0; set < 3; set++) {
        long t0 = System.nanoTime();
        List<Example> train =
            set < 2 ? topKTrain.get(set) : sampledExamples(ids, starts, rows, n, seed).examples();
        ce[set][s] = trainAndScore(gc, tok, train, held, t, steps, seed);
        line.append(
            String.format(
                Locale.ROOT,
                " %s %.4f (%.0f s),",
                set < 2 ? "top-k k=" + ks[set] : "sampled N=" + n,
                ce[set][s],
                (System.nanoTime() - t0) / 1e9));
      }
      System.out.printf(
          Locale.ROOT,
          "%s load %.2f%n",
          line,
          ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    }
    System.out.println(
        "| labels | bytes/token | bias KL(p || E[label]) nats | student held-out CE, mean (sd),"
            + " seeds |");
    System.out.println("|---|---|---|---|");
    for (int set = 0; set < 2; set++) {
      double[] bias = SampledLabelsBenchmark.topK(heldP, ks[set], v);
      row(
          "top-k + tail (v1), k=" + ks[set],
          topKExamples(ids, starts, rows, ks[set]).bytesPerToken(),
          String.format(Locale.ROOT, "%.4f", bias[1]),
          ce[set]);
    }
    row(
        "sampled (v2), N=" + n,
        sampledBytes,
        String.format(Locale.ROOT, "%.4f (R=1000)", sampledBias[2]),
        ce[2]);
    for (int set = 0; set < 2; set++) {
      System.out.printf(
          Locale.ROOT,
          "sampled - top-k (k=%d) held-out CE: %+.4f nats (mean over %d seeds)%n",
          ks[set],
          StudentQualityBenchmark.mean(ce[2]) - StudentQualityBenchmark.mean(ce[set]),
          seeds);
    }
    System.out.printf(
        Locale.ROOT,
        "load average at end %.2f%n",
        ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
  }

  private static void row(String labels, double bytes, String bias, double[] ce) {
    StringBuilder seeds = new StringBuilder();
    for (double x : ce) {
      seeds.append(seeds.length() == 0 ? "" : " / ").append(String.format(Locale.ROOT, "%.4f", x));
    }
    System.out.printf(
        Locale.ROOT,
        "| %s | %.2f | %s | %.4f (%.4f), %s |%n",
        labels,
        bytes,
        bias,
        StudentQualityBenchmark.mean(ce),
        StudentQualityBenchmark.sd(ce),
        seeds);
  }

  private static double trainAndScore(
      GptConfig gc,
      CharTokenizer tok,
      List<Example> train,
      int[] held,
      float t,
      int steps,
      long seed)
      throws Exception {
    DistillationLoss loss = new DistillationLoss(1f, t);
    TrainConfig tc =
        new TrainConfig(steps, 32, 2e-3f, Math.max(1, steps / 20), 2e-4f, 0.01f, 1f, 0, 1, seed);
    try (LanguageModel lm = LanguageModel.create(gc, tok, seed, LinearMode.DENSE)) {
      TrainingLoop.run(
          lm,
          new SoftLabelBatches(train, 32, loss),
          new SoftLabelBatches(train.subList(0, Math.min(32, train.size())), 32, loss),
          tc,
          ProgressListener.NONE,
          Checkpointing.none(),
          null);
      return StudentQualityBenchmark.textCe(lm, held, BLOCK);
    }
  }

  /** Labelled train windows and the bytes per token their encoded labels take. */
  private record Labelled(List<Example> examples, double bytesPerToken) {}

  /** Top-k + tail examples, through codec v1 (what a curated record holds). */
  private static Labelled topKExamples(int[] ids, int[] starts, float[][][] rows, int k) {
    List<Example> out = new ArrayList<>(starts.length);
    long bytes = 0;
    for (int w = 0; w < starts.length; w++) {
      byte[] enc = SoftLabelCodec.encode(SampledLabelsBenchmark.topKLabels(rows[w], k));
      bytes += enc.length;
      out.add(example(w, ids, starts[w], SoftLabelCodec.decode(enc)));
    }
    return new Labelled(out, (double) bytes / (starts.length * (long) BLOCK));
  }

  /** Sampled examples (N draws per position, seeded), through codec v2. */
  private static Labelled sampledExamples(
      int[] ids, int[] starts, float[][][] rows, int n, long seed) {
    Random rng = new Random(seed);
    List<Example> out = new ArrayList<>(starts.length);
    long bytes = 0;
    for (int w = 0; w < starts.length; w++) {
      byte[] enc = SampledSoftLabelCodec.encode(SampledSoftLabelCodec.sample(rows[w], n, rng));
      bytes += enc.length;
      out.add(example(w, ids, starts[w], SampledSoftLabelCodec.decode(enc).toSoftLabels(n)));
    }
    return new Labelled(out, (double) bytes / (starts.length * (long) BLOCK));
  }

  private static Example example(int w, int[] ids, int start, SoftLabels labels) {
    return new Example("w" + w, Arrays.copyOfRange(ids, start, start + BLOCK + 1), labels, 1f);
  }

  private static String cpuModel() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("model name")) {
          return line.substring(line.indexOf(':') + 1).trim();
        }
      }
    } catch (java.io.IOException e) {
      // not Linux: say so below
    }
    return "unknown";
  }
}
