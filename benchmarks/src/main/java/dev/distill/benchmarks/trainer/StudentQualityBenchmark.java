package dev.distill.benchmarks.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.gpt.PackedExport;
import dev.distill.models.nn.LinearMode;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.trainer.compression.SelfCompression;
import dev.distill.trainer.data.Example;
import dev.distill.trainer.data.KdBatch;
import dev.distill.trainer.io.CuratedDataset;
import dev.distill.trainer.loss.DistillationLoss;
import dev.distill.trainer.loss.HardLabelCrossEntropy;
import dev.distill.trainer.training.Checkpointing;
import dev.distill.trainer.training.ProgressListener;
import dev.distill.trainer.training.SoftLabelBatches;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainingLoop;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Quality of students trained on one curated data set, same steps for all: the KD student vs the
 * hard-label student over several seeds (mean and spread of held-out cross-entropy on the val
 * split), and the ternary and self-compressed students (one seed) with their bits per weight. Not a
 * test: prints numbers. Args: run folder of a demo run (reads {@code curated/} and the teacher's
 * {@code models/teacher/tokenizer.json}), steps (default 600), seeds (default 3), student layers
 * (default 2), student width (default 64), scratch folder for exports (default a temp folder).
 */
public final class StudentQualityBenchmark {
  private StudentQualityBenchmark() {}

  private static String heldOutText;

  public static void main(String[] args) throws Exception {
    Path run = Path.of(args[0]);
    int steps = args.length > 1 ? Integer.parseInt(args[1]) : 600;
    int seeds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
    int layers = args.length > 3 ? Integer.parseInt(args[3]) : 2;
    int width = args.length > 4 ? Integer.parseInt(args[4]) : 64;
    Path scratch = args.length > 5 ? Path.of(args[5]) : Files.createTempDirectory("quality");
    // Text no stage has seen (the demo's held-out half of the teacher's val text; write it with
    // `distill eval`'s convention or pass any UTF-8 file): the curated val split holds windows of
    // the teacher's own training text, where an overfit teacher's soft labels flatter KD.
    heldOutText =
        args.length > 6 ? Files.readString(Path.of(args[6]), StandardCharsets.UTF_8) : null;
    CharTokenizer tok =
        CharTokenizer.load(run.resolve("models").resolve("teacher").resolve("tokenizer.json"));
    String curated = run.resolve("curated").toString();
    CuratedDataset train = CuratedDataset.read(curated, "train", tok.sha256());
    CuratedDataset val = CuratedDataset.read(curated, "val", tok.sha256());
    int block = 0;
    for (Example e : train.examples()) {
      block = Math.max(block, e.positions());
    }
    GptConfig gc = new GptConfig(tok.vocabSize(), block, layers, 2, width, 0f);
    float t = train.temperature();
    System.out.printf(
        Locale.ROOT,
        "data: %d train / %d val examples, T=%.1f, student %,d params, %d steps%n",
        train.examples().size(),
        val.examples().size(),
        t,
        gc.parameterCount(),
        steps);
    double[] kd = new double[seeds];
    double[] hard = new double[seeds];
    double[] kdHeld = new double[seeds];
    double[] hardHeld = new double[seeds];
    for (int s = 0; s < seeds; s++) {
      kd[s] =
          trainAndScore(
              gc,
              tok,
              train,
              val,
              new DistillationLoss(0.5f, t),
              steps,
              s + 1,
              LinearMode.DENSE,
              null,
              null);
      hard[s] =
          trainAndScore(
              gc,
              tok,
              train,
              val,
              new DistillationLoss(0f, t),
              steps,
              s + 1,
              LinearMode.DENSE,
              null,
              null);
      System.out.printf(
          Locale.ROOT, "seed %d: kd val_ce=%.4f hard val_ce=%.4f%n", s + 1, kd[s], hard[s]);
      if (heldOutText != null) {
        System.out.printf(
            Locale.ROOT,
            "seed %d: kd held_out_ce=%.4f hard held_out_ce=%.4f%n",
            s + 1,
            lastHeldOut.get(0),
            lastHeldOut.get(1));
        kdHeld[s] = lastHeldOut.get(0);
        hardHeld[s] = lastHeldOut.get(1);
        lastHeldOut.clear();
      }
    }
    System.out.printf(
        Locale.ROOT,
        "kd-student   val_ce mean %.4f sd %.4f (n=%d)%nhard-student val_ce mean %.4f sd %.4f%n",
        mean(kd),
        sd(kd),
        seeds,
        mean(hard),
        sd(hard));
    if (heldOutText != null) {
      System.out.printf(
          Locale.ROOT,
          "kd-student   held_out_ce mean %.4f sd %.4f%nhard-student held_out_ce mean %.4f sd %.4f%n",
          mean(kdHeld),
          sd(kdHeld),
          mean(hardHeld),
          sd(hardHeld));
    }
    DistillationLoss loss = new DistillationLoss(0.5f, t);
    double ternary =
        trainAndScore(
            gc,
            tok,
            train,
            val,
            loss,
            steps,
            1,
            LinearMode.TERNARY,
            null,
            scratch.resolve("ternary"));
    SelfCompression reg = new SelfCompression(0.02f);
    double sc =
        trainAndScore(
            gc,
            tok,
            train,
            val,
            loss,
            steps,
            1,
            LinearMode.SELF_COMPRESSING,
            reg,
            scratch.resolve("self-compressed"));
    System.out.printf(Locale.ROOT, "dense kd (seed 1) val_ce=%.4f bits_per_weight=32%n", kd[0]);
    System.out.printf(
        Locale.ROOT,
        "ternary kd       val_ce=%.4f %s%n",
        ternary,
        bits(scratch.resolve("ternary")));
    System.out.printf(
        Locale.ROOT,
        "self-compressed  val_ce=%.4f %s (Q at end %.3f)%n",
        sc,
        bits(scratch.resolve("self-compressed")),
        reg.history().get(reg.history().size() - 1)[1]);
  }

  private static String bits(Path export) throws Exception {
    try (LanguageModel lm = PackedExport.read(export)) {
      return "packed.bin " + Files.size(export.resolve(PackedExport.PACKED)) + " bytes";
    }
  }

  private static double trainAndScore(
      GptConfig gc,
      CharTokenizer tok,
      CuratedDataset train,
      CuratedDataset val,
      DistillationLoss loss,
      int steps,
      long seed,
      LinearMode mode,
      SelfCompression reg,
      Path export)
      throws Exception {
    TrainConfig tc =
        new TrainConfig(steps, 32, 2e-3f, Math.max(1, steps / 20), 2e-4f, 0.01f, 1f, 0, 4, seed);
    try (LanguageModel lm = LanguageModel.create(gc, tok, seed, mode)) {
      TrainingLoop.run(
          lm,
          new SoftLabelBatches(train.examples(), 32, loss),
          new SoftLabelBatches(val.examples(), 32, loss),
          tc,
          ProgressListener.NONE,
          Checkpointing.none(),
          reg);
      if (export != null) {
        PackedExport.Summary s = PackedExport.write(lm, export);
        System.out.printf(
            Locale.ROOT,
            "%s: %.3f bits per weight, %,d bytes on disk%n",
            mode,
            s.bitsPerWeight(),
            s.bytesOnDisk());
      }
      if (heldOutText != null) {
        double ce = textCe(lm, tok.encode(heldOutText), gc.blockSize());
        lastHeldOut.add(ce);
        if (mode != LinearMode.DENSE) {
          System.out.printf(Locale.ROOT, "%s held_out_ce=%.4f%n", mode, ce);
        }
      }
      return heldOutCe(lm, val.examples());
    }
  }

  private static final List<Double> lastHeldOut = new ArrayList<>();

  /** Mean next-token cross-entropy over non-overlapping windows of {@code tokens}. */
  static double textCe(LanguageModel lm, int[] tokens, int block) {
    double sum = 0;
    long n = 0;
    int windows = (tokens.length - 1) / block;
    for (int w0 = 0; w0 < windows; w0 += 32) {
      int rows = Math.min(32, windows - w0);
      int[][] in = new int[rows][block];
      long[] target = new long[rows * block];
      for (int r = 0; r < rows; r++) {
        int start = (w0 + r) * block;
        System.arraycopy(tokens, start, in[r], 0, block);
        for (int c = 0; c < block; c++) {
          target[r * block + c] = tokens[start + c + 1];
        }
      }
      try (NDManager m = NDManager.newBaseManager()) {
        NDArray logits = lm.logits(m, in);
        NDArray y = m.create(target, new ai.djl.ndarray.types.Shape(rows, block));
        for (float x : HardLabelCrossEntropy.perPosition(logits, y).toFloatArray()) {
          sum += x;
          n++;
        }
      }
    }
    return sum / n;
  }

  /** Mean next-token cross-entropy over every real position of the val examples. */
  static double heldOutCe(LanguageModel lm, List<Example> val) {
    double sum = 0;
    long n = 0;
    for (int i = 0; i < val.size(); i += 32) {
      List<Example> chunk = new ArrayList<>(val.subList(i, Math.min(val.size(), i + 32)));
      try (NDManager m = NDManager.newBaseManager()) {
        KdBatch b = KdBatch.of(m, chunk);
        long[] shape = b.inputs().getShape().getShape();
        long[] flat = b.inputs().toLongArray();
        int[][] tokens = new int[(int) shape[0]][(int) shape[1]];
        for (int r = 0; r < shape[0]; r++) {
          for (int c = 0; c < shape[1]; c++) {
            tokens[r][c] = (int) flat[(int) (r * shape[1] + c)];
          }
        }
        NDArray logits = lm.logits(m, tokens);
        float[] per =
            HardLabelCrossEntropy.perPosition(logits, b.targets()).mul(b.mask()).toFloatArray();
        for (float x : per) {
          sum += x;
        }
        n += b.tokenCount();
      }
    }
    return sum / n;
  }

  static double mean(double[] a) {
    double s = 0;
    for (double x : a) {
      s += x;
    }
    return s / a.length;
  }

  static double sd(double[] a) {
    double m = mean(a);
    double s = 0;
    for (double x : a) {
      s += (x - m) * (x - m);
    }
    return a.length > 1 ? Math.sqrt(s / (a.length - 1)) : 0;
  }
}
