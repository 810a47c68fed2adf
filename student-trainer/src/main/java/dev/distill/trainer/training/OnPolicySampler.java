package dev.distill.trainer.training;

import dev.distill.models.generation.CachedDecoder;
import dev.distill.models.generation.Sampler;
import dev.distill.models.gpt.LanguageModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * The student's continuations of a whole batch of prompts at once, through one {@link
 * CachedDecoder} (one {@code KvCache}): rows whose prompts differ in length are decoded together by
 * teacher-forcing each row through the rest of its own prompt.
 *
 * <p>Decoding starts at the shortest prompt's length {@code P0}: one forward prefills the first
 * {@code P0} tokens of every row, then each step runs one position of every unfinished row against
 * the cache. At position {@code p} a row whose prompt is longer than {@code p} takes its prompt's
 * token (its logits are not used and its RNG is not drawn); otherwise it samples. A row leaves the
 * batch once it holds its prompt plus its {@code newTokens}, or, with a stop sequence, once its
 * sampled tokens end with that sequence (the cache drops its keys; the row is returned up to and
 * including the stop). The model is causal, so every row's logits at {@code p} are those of a full
 * forward of its own first {@code p} tokens (up to float rounding: the matrix products have other
 * shapes), whatever the other rows hold.
 *
 * <p>RNG contract: row {@code i} draws from its own {@code java.util.Random} seeded with {@link
 * #rowSeed(long, int) rowSeed(seed, i)}, one {@code nextDouble()} per sampled token, as {@link
 * Sampler#generate} does; so {@code sample(...)} gives, row for row, what {@code
 * Sampler.generate(student, prompt_i, newTokens_i, temperature, new Random(rowSeed(seed, i)))}
 * gives (the same tokens except where float rounding moves a draw across a bucket boundary or
 * breaks a greedy tie, as between {@code Sampler}'s two decodings), and a row's tokens do not
 * depend on which other rows share its batch.
 */
public final class OnPolicySampler {
  private OnPolicySampler() {}

  /** {@link #sample(LanguageModel, List, int[], float, long, int[])} without a stop sequence. */
  public static List<int[]> sample(
      LanguageModel student, List<int[]> prompts, int[] newTokens, float temperature, long seed) {
    return sample(student, prompts, newTokens, temperature, seed, new int[0]);
  }

  /**
   * @param prompts one prompt per row (at least one token each)
   * @param newTokens most tokens to sample after each prompt (>= 0)
   * @param temperature of {@code softmax(logits / T)}; 0 is greedy (argmax, lowest id on ties)
   * @param seed the batch's seed: row i draws from {@code new Random(rowSeed(seed, i))}
   * @param stop a row stops once its sampled tokens (not its prompt) end with these ids; empty:
   *     every row samples its {@code newTokens}
   * @return per row, its prompt followed by its sampled tokens, up to and including the stop
   * @throws IllegalArgumentException for an empty prompt, mismatched sizes, a negative count or
   *     temperature
   */
  public static List<int[]> sample(
      LanguageModel student,
      List<int[]> prompts,
      int[] newTokens,
      float temperature,
      long seed,
      int[] stop) {
    if (prompts.size() != newTokens.length) {
      throw new IllegalArgumentException(
          prompts.size() + " prompts but " + newTokens.length + " token counts");
    }
    if (!(temperature >= 0f) || Float.isInfinite(temperature)) {
      throw new IllegalArgumentException("temperature must be finite and >= 0, got " + temperature);
    }
    int n = prompts.size();
    int[][] rows = new int[n][];
    int[] promptLength = new int[n];
    int[] length = new int[n]; // where a row ends: its prompt plus its samples, or at the stop
    Random[] rngs = new Random[n];
    int start = Integer.MAX_VALUE;
    int end = 0;
    for (int i = 0; i < n; i++) {
      int[] p = prompts.get(i);
      if (p.length == 0 || newTokens[i] < 0) {
        throw new IllegalArgumentException(
            "row "
                + i
                + ": the prompt must hold a token and the count be >= 0, got "
                + p.length
                + " tokens and "
                + newTokens[i]);
      }
      promptLength[i] = p.length;
      rows[i] = Arrays.copyOf(p, p.length + newTokens[i]);
      length[i] = rows[i].length;
      rngs[i] = new Random(rowSeed(seed, i));
      if (newTokens[i] > 0) {
        start = Math.min(start, p.length);
        end = Math.max(end, rows[i].length);
      }
    }
    if (end > 0) {
      try (CachedDecoder decoder = new CachedDecoder(student)) {
        // len = tokens each active row holds; the step predicts position len
        for (int len = start; len < end; len++) {
          List<Integer> active = new ArrayList<>();
          for (int i = 0; i < n; i++) {
            if (length[i] > len && newTokens[i] > 0) {
              active.add(i);
            }
          }
          if (active.isEmpty()) {
            break; // every row stopped
          }
          int[][] context = new int[active.size()][];
          for (int r = 0; r < context.length; r++) {
            context[r] = Arrays.copyOf(rows[active.get(r)], len);
          }
          float[][] logits = decoder.nextLogits(context);
          for (int r = 0; r < context.length; r++) {
            int i = active.get(r);
            if (len >= promptLength[i]) {
              rows[i][len] = draw(logits[r], temperature, rngs[i]);
              if (endsWithStop(rows[i], promptLength[i], len + 1, stop)) {
                length[i] = len + 1; // leaves the batch: the next step leaves it out
              }
            }
          }
        }
      }
    }
    List<int[]> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(length[i] == rows[i].length ? rows[i] : Arrays.copyOf(rows[i], length[i]));
    }
    return List.copyOf(out);
  }

  /**
   * Whether {@code row[from..to)} (the sampled tokens so far) ends with a non-empty {@code stop}.
   */
  static boolean endsWithStop(int[] row, int from, int to, int[] stop) {
    if (stop.length == 0 || to - from < stop.length) {
      return false;
    }
    return Arrays.equals(row, to - stop.length, to, stop, 0, stop.length);
  }

  /** Seed of row {@code row}'s RNG in a batch seeded {@code seed} (a SplitMix64 finaliser). */
  public static long rowSeed(long seed, int row) {
    long z = seed + (row + 1) * 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /**
   * Inverse-CDF draw from {@code softmax(logits / T)} with one {@code nextDouble()}: the first id
   * whose cumulative weight {@code sum_{j<=i} exp((l_j - max) / T)} exceeds {@code u * total}, in
   * the order and precision {@link Sampler} uses, so equal logits and RNG give {@code Sampler}'s
   * token.
   */
  private static int draw(float[] logits, float temperature, Random rng) {
    int best = Sampler.argmax(logits);
    if (temperature == 0f) {
      return best;
    }
    double[] cumulative = new double[logits.length];
    double total = 0;
    for (int i = 0; i < logits.length; i++) {
      total += Math.exp((logits[i] - logits[best]) / (double) temperature);
      cumulative[i] = total;
    }
    double u = rng.nextDouble() * total;
    for (int i = 0; i < cumulative.length; i++) {
      if (u < cumulative[i]) {
        return i;
      }
    }
    return best;
  }
}
