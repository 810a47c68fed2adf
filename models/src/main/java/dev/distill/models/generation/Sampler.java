package dev.distill.models.generation;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import dev.distill.models.gpt.LanguageModel;
import java.util.Arrays;
import java.util.Random;

/**
 * Autoregressive sampling from a {@link LanguageModel}, as nanoGPT's {@code generate}, by default
 * with a key/value cache ({@link Decoding#KV_CACHE}).
 */
public final class Sampler {

  /** How each step gets the logits of the last position. */
  public enum Decoding {
    /**
     * Prefill the prompt (its last blockSize tokens) once into a {@link
     * dev.distill.models.gpt.KvCache} ({@link CachedDecoder}), then run one position per step
     * against the cached keys and values. Once the context holds blockSize tokens, each further
     * step re-encodes the last blockSize tokens (nanoGPT's crop: the learned position embeddings
     * are absolute, so cached keys of a shifted window are not valid), which costs what a {@link
     * #FULL_CONTEXT} step costs and gives the same logits.
     */
    KV_CACHE,
    /** A full forward of the last {@code min(len, blockSize)} tokens every step (no cache). */
    FULL_CONTEXT
  }

  private Sampler() {}

  /**
   * Autoregressive generation with {@link Decoding#KV_CACHE}, cropping the context to blockSize.
   * temperature == 0 means greedy (argmax).
   *
   * @see #generate(LanguageModel, int[], int, float, Random, Decoding)
   */
  public static int[] generate(
      LanguageModel lm, int[] prompt, int maxNewTokens, float temperature, Random rng) {
    return generate(lm, prompt, maxNewTokens, temperature, rng, Decoding.KV_CACHE);
  }

  /**
   * Autoregressive generation, cropping the context to blockSize. temperature == 0 means greedy
   * (argmax).
   *
   * <p>Each step takes the logits of the last of the last {@code min(len, blockSize)} tokens and
   * draws the next token from {@code softmax(logits_last / temperature)} with {@code rng} (ties in
   * argmax go to the lowest id); both decodings compute the same logits (up to float rounding) and
   * draw from {@code rng} the same way, one {@code nextDouble()} per sampled token, so the same
   * seed gives the same tokens. The one exception is rare: with 8-bit activations (TERNARY, ACT8)
   * an activation on a rounding boundary can round one quantum apart in the two decodings (their
   * matrix products differ in the last bit), which moves the logits by up to about 1e-2 and can
   * change a token whose choice was that close. Arrays live in a per-generation sub-manager closed
   * before returning; no gradients are recorded.
   *
   * @return the prompt followed by {@code maxNewTokens} generated ids
   * @throws IllegalArgumentException for an empty prompt, a negative count or temperature
   */
  public static int[] generate(
      LanguageModel lm,
      int[] prompt,
      int maxNewTokens,
      float temperature,
      Random rng,
      Decoding decoding) {
    if (prompt.length == 0) {
      throw new IllegalArgumentException("prompt must hold at least one token");
    }
    if (maxNewTokens < 0) {
      throw new IllegalArgumentException("maxNewTokens must be >= 0, got " + maxNewTokens);
    }
    if (!(temperature >= 0f) || Float.isInfinite(temperature)) {
      throw new IllegalArgumentException("temperature must be finite and >= 0, got " + temperature);
    }
    int[] out = Arrays.copyOf(prompt, prompt.length + maxNewTokens);
    if (maxNewTokens == 0) {
      return out;
    }
    return switch (decoding) {
      case KV_CACHE -> generateCached(lm, out, prompt.length, temperature, rng);
      case FULL_CONTEXT -> generateFull(lm, out, prompt.length, temperature, rng);
    };
  }

  private static int[] generateFull(
      LanguageModel lm, int[] out, int len, float temperature, Random rng) {
    int blockSize = lm.config().blockSize();
    try (NDManager manager = lm.model().getNDManager().newSubManager()) {
      while (len < out.length) {
        int[] context = Arrays.copyOfRange(out, Math.max(0, len - blockSize), len);
        float[] last;
        try (NDManager stepManager = manager.newSubManager()) {
          last = lastRow(lm.logits(stepManager, new int[][] {context}));
        }
        out[len++] = pick(last, temperature, rng);
      }
    }
    return out;
  }

  private static int[] generateCached(
      LanguageModel lm, int[] out, int len, float temperature, Random rng) {
    try (CachedDecoder decoder = new CachedDecoder(lm)) {
      while (len < out.length) {
        float[] last = decoder.nextLogits(Arrays.copyOf(out, len));
        out[len++] = pick(last, temperature, rng);
      }
    }
    return out;
  }

  private static float[] lastRow(NDArray logits) {
    return logits.get(new NDIndex("0, -1, :")).toFloatArray();
  }

  private static int pick(float[] logits, float temperature, Random rng) {
    return temperature == 0f ? argmax(logits) : sample(logits, temperature, rng);
  }

  /** The lowest id of the largest logit (greedy decoding). */
  public static int argmax(float[] logits) {
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
