package dev.distill.models.generation;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import dev.distill.models.gpt.LanguageModel;
import java.util.Arrays;
import java.util.Random;

/** Autoregressive sampling from a {@link LanguageModel}, as nanoGPT's {@code generate}. */
public final class Sampler {

  private Sampler() {}

  /**
   * Autoregressive generation, cropping the context to blockSize. temperature == 0 means greedy
   * (argmax).
   *
   * <p>Each step runs the model on the last {@code min(len, blockSize)} tokens and draws the next
   * token from {@code softmax(logits_last / temperature)} with {@code rng} (ties in argmax go to
   * the lowest id). No KV cache: a step costs a full forward of the context.
   *
   * @return the prompt followed by {@code maxNewTokens} generated ids
   * @throws IllegalArgumentException for an empty prompt, a negative count or temperature
   */
  public static int[] generate(
      LanguageModel lm, int[] prompt, int maxNewTokens, float temperature, Random rng) {
    if (prompt.length == 0) {
      throw new IllegalArgumentException("prompt must hold at least one token");
    }
    if (maxNewTokens < 0) {
      throw new IllegalArgumentException("maxNewTokens must be >= 0, got " + maxNewTokens);
    }
    if (!(temperature >= 0f) || Float.isInfinite(temperature)) {
      throw new IllegalArgumentException("temperature must be finite and >= 0, got " + temperature);
    }
    int blockSize = lm.config().blockSize();
    int[] out = Arrays.copyOf(prompt, prompt.length + maxNewTokens);
    int len = prompt.length;
    try (NDManager manager = lm.model().getNDManager().newSubManager()) {
      for (int step = 0; step < maxNewTokens; step++) {
        int from = Math.max(0, len - blockSize);
        int[] context = Arrays.copyOfRange(out, from, len);
        float[] last;
        try (NDManager stepManager = manager.newSubManager()) {
          NDArray logits = lm.logits(stepManager, new int[][] {context});
          last = logits.get(new NDIndex("0, -1, :")).toFloatArray();
        }
        out[len++] = temperature == 0f ? argmax(last) : sample(last, temperature, rng);
      }
    }
    return out;
  }

  private static int argmax(float[] logits) {
    int best = 0;
    for (int i = 1; i < logits.length; i++) {
      if (logits[i] > logits[best]) {
        best = i;
      }
    }
    return best;
  }

  /** Draws i with probability exp((l_i - max) / T) / sum_j exp((l_j - max) / T). */
  private static int sample(float[] logits, float temperature, Random rng) {
    float max = logits[argmax(logits)];
    double[] weights = new double[logits.length];
    double total = 0;
    for (int i = 0; i < logits.length; i++) {
      weights[i] = Math.exp((logits[i] - max) / (double) temperature);
      total += weights[i];
    }
    double u = rng.nextDouble() * total;
    double acc = 0;
    for (int i = 0; i < weights.length; i++) {
      acc += weights[i];
      if (u < acc) {
        return i;
      }
    }
    return argmax(logits);
  }
}
