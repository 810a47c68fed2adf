package dev.distill.benchmarks.trainer;

import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.trainer.training.ProgressListener;
import dev.distill.trainer.training.TextWindows;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainResult;
import dev.distill.trainer.training.TrainingLoop;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * What gradient accumulation costs in throughput: nanoGPT's CPU baby GPT (4 layers, 4 heads, 128
 * wide, context 64) trained for the same steps at the same effective batch of 12 sequences, as 1 x
 * 12, 2 x 6, 3 x 4 and 4 x 3 micro-batches, side by side in one JVM (a discarded warm-up run
 * first). Not a test: prints tokens/s and the ratio to 1 x 12. Args: corpus path, steps (default
 * 40).
 */
public final class AccumulationBenchmark {
  private static final int ROUNDS = 3;

  private AccumulationBenchmark() {}

  public static void main(String[] args) throws Exception {
    String text = Files.readString(Path.of(args[0]), StandardCharsets.UTF_8);
    int steps = args.length > 1 ? Integer.parseInt(args[1]) : 40;
    CharTokenizer tok = CharTokenizer.fromCorpus(text);
    int[] ids = tok.encode(text);
    GptConfig gc = new GptConfig(tok.vocabSize(), 64, 4, 4, 128, 0f);
    run(tok, ids, gc, steps, 12, 1); // warm-up: JIT, native library, allocator
    int[] micros = {1, 2, 3, 4};
    // Round-robin, median per setting: on a shared machine the load drifts during a run, and
    // interleaving spreads it over every setting instead of charging it to one.
    double[][] tps = new double[micros.length][ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
      for (int i = 0; i < micros.length; i++) {
        tps[i][round] = run(tok, ids, gc, steps, 12 / micros[i], micros[i]).tokensPerSecond();
      }
    }
    double base = median(tps[0]);
    for (int i = 0; i < micros.length; i++) {
      System.out.printf(
          Locale.ROOT,
          "accumulation=%d micro_batch=%d effective_batch=12 steps=%d rounds=%d"
              + " median_tokens_per_second=%.0f ratio_to_1x12=%.2f all=%s%n",
          micros[i],
          12 / micros[i],
          steps,
          ROUNDS,
          median(tps[i]),
          median(tps[i]) / base,
          java.util.Arrays.toString(
              java.util.Arrays.stream(tps[i]).mapToLong(Math::round).toArray()));
    }
  }

  private static double median(double[] xs) {
    double[] s = xs.clone();
    java.util.Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  private static TrainResult run(
      CharTokenizer tok, int[] ids, GptConfig gc, int steps, int batch, int micro) {
    TrainConfig tc =
        TrainConfig.builder(steps, batch, 1e-3f)
            .warmupSteps(5)
            .minLearningRate(1e-4f)
            .weightDecay(0.01f)
            .accumulationSteps(micro)
            .build();
    try (LanguageModel lm = LanguageModel.create(gc, tok, 1337)) {
      return TrainingLoop.run(
          lm,
          new TextWindows(ids, 64, batch),
          new TextWindows(ids, 64, batch),
          tc,
          ProgressListener.NONE);
    }
  }
}
