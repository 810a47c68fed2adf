package dev.distill.benchmarks.trainer;

import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.trainer.compression.LiveTeacherBatches;
import dev.distill.trainer.compression.LowRank;
import dev.distill.trainer.training.Checkpointing;
import dev.distill.trainer.training.TextWindows;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainingLoop;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * Val loss vs rank of low-rank students: trains a dense char GPT on a corpus (hard labels), then
 * for each rank factorises it by SVD and prints the val cross-entropy right after factorisation and
 * after KD fine-tuning from the dense model ({@link LiveTeacherBatches}), with parameter counts.
 * Args: corpus, dense steps (default 300), fine-tuning steps (default 60), layers (default 2),
 * width (default 64), ranks (default "64,32,16,8,4").
 */
public final class LowRankBenchmark {
  private LowRankBenchmark() {}

  public static void main(String[] args) throws Exception {
    String text = Files.readString(Path.of(args[0]), StandardCharsets.UTF_8);
    int denseSteps = args.length > 1 ? Integer.parseInt(args[1]) : 300;
    int ftSteps = args.length > 2 ? Integer.parseInt(args[2]) : 60;
    int layers = args.length > 3 ? Integer.parseInt(args[3]) : 2;
    int width = args.length > 4 ? Integer.parseInt(args[4]) : 64;
    int[] ranks =
        Arrays.stream((args.length > 5 ? args[5] : "64,32,16,8,4").split(","))
            .mapToInt(Integer::parseInt)
            .toArray();
    CharTokenizer tok = CharTokenizer.fromCorpus(text);
    int[] ids = tok.encode(text);
    int cut = (int) (ids.length * 0.9);
    int[] train = Arrays.copyOfRange(ids, 0, cut);
    int[] val = Arrays.copyOfRange(ids, cut, ids.length);
    int block = 64;
    GptConfig gc = new GptConfig(tok.vocabSize(), block, layers, 4, width, 0f);
    TextWindows valWindows = new TextWindows(val, block, 12);
    try (LanguageModel dense = LanguageModel.create(gc, tok, 1)) {
      var denseRun =
          TrainingLoop.run(
              dense,
              new TextWindows(train, block, 12),
              valWindows,
              TrainConfig.builder(denseSteps, 12, 1e-3f)
                  .warmupSteps(Math.min(50, denseSteps))
                  .minLearningRate(1e-4f)
                  .weightDecay(0.1f)
                  .seed(1)
                  .build(),
              (s, t, l, v, r) -> {});
      double denseVal = valCe(dense, valWindows);
      System.out.printf(
          Locale.ROOT,
          "dense: %,d params, val_ce=%.4f (loop's val %.4f) after %d steps%n",
          LowRank.parameterCount(dense),
          denseVal,
          denseRun.finalValLoss(),
          denseSteps);
      for (int r : ranks) {
        long t0 = System.nanoTime();
        try (LanguageModel lr = LowRank.factorise(dense, r)) {
          double svdSeconds = (System.nanoTime() - t0) / 1e9;
          double before = valCe(lr, valWindows);
          TrainingLoop.run(
              lr,
              new LiveTeacherBatches(dense, train, block, 12),
              new LiveTeacherBatches(dense, val, block, 12),
              TrainConfig.builder(ftSteps, 12, 3e-4f)
                  .warmupSteps(Math.min(10, ftSteps))
                  .minLearningRate(3e-5f)
                  .seed(2)
                  .build(),
              (s, t, l, v, res) -> {},
              Checkpointing.none(),
              null);
          double after = valCe(lr, valWindows);
          System.out.printf(
              Locale.ROOT,
              "rank %3d: %,d params (%.2fx dense), val_ce factorised=%.4f after %d KD steps=%.4f"
                  + " (svd %.2f s)%n",
              r,
              LowRank.parameterCount(lr),
              (double) LowRank.parameterCount(lr) / LowRank.parameterCount(dense),
              before,
              ftSteps,
              after,
              svdSeconds);
        }
      }
    }
  }

  /** Mean next-token cross-entropy over 20 val batches drawn with a fixed seed. */
  private static double valCe(LanguageModel lm, TextWindows val) {
    java.util.Random rng = new java.util.Random(123);
    double sum = 0;
    int n = 20;
    for (int i = 0; i < n; i++) {
      try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager()) {
        var batch = val.next(m, rng);
        long[] shape = batch.inputs().getShape().getShape();
        int[] flat = batch.inputs().toType(ai.djl.ndarray.types.DataType.INT32, false).toIntArray();
        int[][] rows = new int[(int) shape[0]][];
        for (int b = 0; b < rows.length; b++) {
          rows[b] = Arrays.copyOfRange(flat, b * (int) shape[1], (b + 1) * (int) shape[1]);
        }
        sum += batch.loss(lm.logits(m, rows)).getFloat();
      }
    }
    return sum / n;
  }
}
