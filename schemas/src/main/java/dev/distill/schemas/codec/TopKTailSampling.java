package dev.distill.schemas.codec;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Sampled soft labels (codec v2, {@link SampledSoftLabelCodec}) drawn from stored top-k + tail
 * labels (codec v1, {@link SoftLabelCodec}), without the teacher: Random-Sampling KD (Anshumann et
 * al., ACL 2025, "Sparse Logit Sampling: Accelerating Knowledge Distillation in LLMs") applied to
 * the distribution a v1 record describes.
 *
 * <h2>What a top-k + tail record is sampled from</h2>
 *
 * A v1 record keeps the teacher's k most probable ids with {@code p_j} and one tail mass {@code
 * tau}; which ids the tail belongs to, and how it is shared among them, is not stored. The record
 * is read, as everywhere in this project (RelabelJob's KL, FuseJob, ULD), as the full-vocabulary
 * distribution
 *
 * <pre>
 *   r(i) = p_j / Z              for i = id_j in the top-k
 *   r(i) = tau / ((V - k) Z)    for each of the V - k other ids,   Z = sum_j p_j + tau
 * </pre>
 *
 * ({@code Z} is 1 up to the codec's rounding). Each of the N draws (with replacement) first picks a
 * bucket, id_j with probability {@code p_j / Z} or the tail with {@code tau / Z}; a tail draw then
 * picks one of the V - k other ids uniformly. The counts {@code c_i} are stored, the decoded label
 * is {@code c_i / N} (codec v2: proposal = the distribution sampled, every importance weight 1).
 *
 * <p>So {@code E[c_i / N] = r(i)} for every id: the sampled labels are an <em>unbiased estimate of
 * the record</em>, and the student trained on them follows, in expectation, the same forward-KL
 * gradient as on {@code r}. They are not an unbiased estimate of the <em>teacher</em>: the tail's
 * shape was lost when the record was written, so its total mass is right in expectation but it is
 * spread uniformly, not as the teacher spread it. Only labelling from the full distribution ({@code
 * distill label --labels sampled:N}) removes the top-k truncation bias entirely. When {@code V = k}
 * a tail has nowhere to go and is left out ({@code Z = sum_j p_j}).
 *
 * <h2>Determinism</h2>
 *
 * The draws at a position come from a SplitMix64 stream seeded by {@link #positionSeed}(seed,
 * record key, position): the same (record, position, seed) gives the same draws whatever else is in
 * the record, data set or partition, and another seed gives independent draws.
 */
public final class TopKTailSampling {
  private TopKTailSampling() {}

  /**
   * Draws {@code n} ids per position from the record's distribution {@code r} (class comment).
   *
   * @param labels top-k + tail labels (not already sampled)
   * @param vocab vocabulary size V (at least k)
   * @param n draws per position, at least 1
   * @param seed the run's seed
   * @param recordKey the record's identity ({@link #recordKey})
   * @throws IllegalArgumentException when the labels are sampled, V is below k, n below 1, or a
   *     position has no mass
   */
  public static SampledSoftLabelCodec.Sampled sample(
      SoftLabels labels, int vocab, int n, long seed, long recordKey) {
    if (labels.sampled()) {
      throw new IllegalArgumentException("labels are already sampled; top-k + tail labels needed");
    }
    int k = labels.k();
    if (n < 1 || vocab < k) {
      throw new IllegalArgumentException(
          "need samples >= 1 and vocab >= k=" + k + ", got samples=" + n + " vocab=" + vocab);
    }
    int positions = labels.positions();
    int[] offsets = new int[positions + 1];
    int[] ids = new int[positions * n];
    int[] counts = new int[positions * n];
    int[] drawn = new int[n];
    int[] sortedTop = new int[k];
    int at = 0;
    for (int p = 0; p < positions; p++) {
      double tail = vocab > k ? Math.max(0f, labels.tail(p)) : 0;
      double total = tail;
      for (int j = 0; j < k; j++) {
        total += Math.max(0f, labels.prob(p, j));
        sortedTop[j] = labels.id(p, j);
      }
      if (!(total > 0)) {
        throw new IllegalArgumentException("position " + p + " has no probability mass");
      }
      Arrays.sort(sortedTop);
      long[] state = {positionSeed(seed, recordKey, p)};
      for (int s = 0; s < n; s++) {
        drawn[s] = draw(labels, p, total, tail, vocab, sortedTop, state);
      }
      at = SampledSoftLabelCodec.appendCounts(drawn, ids, counts, at);
      offsets[p + 1] = at;
    }
    return new SampledSoftLabelCodec.Sampled(
        positions, n, offsets, Arrays.copyOf(ids, at), Arrays.copyOf(counts, at));
  }

  /**
   * The distribution {@code r} a record is sampled from at one position (class comment), over the
   * whole vocabulary: what {@code c_i / N} estimates without bias.
   */
  public static double[] expected(SoftLabels labels, int position, int vocab) {
    int k = labels.k();
    double tail = vocab > k ? Math.max(0f, labels.tail(position)) : 0;
    double total = tail;
    for (int j = 0; j < k; j++) {
      total += Math.max(0f, labels.prob(position, j));
    }
    double[] r = new double[vocab];
    Arrays.fill(r, vocab > k ? tail / ((vocab - k) * total) : 0);
    for (int j = 0; j < k; j++) {
      r[labels.id(position, j)] = Math.max(0f, labels.prob(position, j)) / total;
    }
    return r;
  }

  /** A record's identity for {@link #positionSeed}: FNV-1a (64 bit) of its id's UTF-8 bytes. */
  public static long recordKey(String recordId) {
    long h = 0xcbf29ce484222325L;
    for (byte b : recordId.getBytes(StandardCharsets.UTF_8)) {
      h = (h ^ (b & 0xFF)) * 0x100000001b3L;
    }
    return h;
  }

  /** The seed of one position's stream: SplitMix64's finaliser over (seed, record, position). */
  public static long positionSeed(long seed, long recordKey, int position) {
    return mix(mix(mix(seed) ^ recordKey) + position);
  }

  private static int draw(
      SoftLabels labels,
      int p,
      double total,
      double tail,
      int vocab,
      int[] sortedTop,
      long[] state) {
    double u = nextDouble(state) * total;
    int k = labels.k();
    double run = 0;
    int last = -1;
    for (int j = 0; j < k; j++) {
      double pj = Math.max(0f, labels.prob(p, j));
      if (pj > 0) {
        run += pj;
        last = j;
        if (u < run) {
          return labels.id(p, j);
        }
      }
    }
    if (tail <= 0) {
      // u fell past the running sum by rounding only: the last id with mass
      return labels.id(p, last);
    }
    // the r-th id outside the top-k, in ascending order: uniform over the V - k others
    int id = (int) Math.min(vocab - k - 1L, (long) (nextDouble(state) * (vocab - k)));
    for (int top : sortedTop) {
      if (top <= id) {
        id++;
      }
    }
    return id;
  }

  /** The next double in [0, 1) of a SplitMix64 stream (Steele, Lea and Flood, OOPSLA 2014). */
  private static double nextDouble(long[] state) {
    state[0] += 0x9e3779b97f4a7c15L;
    return (mix(state[0]) >>> 11) * 0x1.0p-53;
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }
}
