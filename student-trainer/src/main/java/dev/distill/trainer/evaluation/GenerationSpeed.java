package dev.distill.trainer.evaluation;

import dev.distill.models.generation.CachedDecoder;
import dev.distill.models.generation.Sampler;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.nn.LmConfig;
import java.util.Arrays;

/**
 * Generation cost of a model: per-token latency of greedy decoding at batch 1 (p50, p95) and tokens
 * per second, measured on this machine; and the analytic forward FLOPs per token.
 */
public final class GenerationSpeed {
  /** Measured speed. */
  public record Result(double tokensPerSecond, double p50Millis, double p95Millis) {}

  private GenerationSpeed() {}

  /**
   * Forward FLOPs per token, {@code 2 N + 2 nLayer nCtx d} with N the non-embedding parameters
   * (Kaplan et al., "Scaling Laws for Neural Language Models", 2020, table 1), plus the tied output
   * head's {@code 2 V d}, which matters at these small sizes.
   */
  public static long flopsPerToken(LmConfig c) {
    return c.flopsPerToken();
  }

  /**
   * Greedy-decodes {@code tokens} tokens after {@code prompt}, {@code runs} times after one warm-up
   * run, timing every token. Decoding goes through the KV cache ({@link CachedDecoder}) as the
   * models' generation does: the first token of a run includes the prompt's prefill, the others one
   * position each (past blockSize each token re-encodes the cropped window).
   */
  public static Result measure(LanguageModel model, int[] prompt, int tokens, int runs) {
    double[] latencies = new double[tokens * runs];
    int at = 0;
    long total = 0;
    for (int run = -1; run < runs; run++) {
      int[] seq = prompt.clone();
      try (CachedDecoder decoder = new CachedDecoder(model)) {
        for (int i = 0; i < tokens; i++) {
          long t0 = System.nanoTime();
          int next = Sampler.argmax(decoder.nextLogits(seq));
          long dt = System.nanoTime() - t0;
          seq = Arrays.copyOf(seq, seq.length + 1);
          seq[seq.length - 1] = next;
          if (run >= 0) {
            latencies[at++] = dt / 1e6;
            total += dt;
          }
        }
      }
    }
    Arrays.sort(latencies);
    return new Result(
        latencies.length / (total / 1e9),
        latencies[(int) (0.50 * (latencies.length - 1))],
        latencies[(int) (0.95 * (latencies.length - 1))]);
  }
}
