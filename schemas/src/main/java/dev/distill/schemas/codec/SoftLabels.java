package dev.distill.schemas.codec;

import java.util.Arrays;

/**
 * Sparse soft labels of one sequence: for each of {@code positions} positions, the teacher's top-k
 * token ids with their probabilities at temperature T, and the tail mass {@code 1 - sum(top-k)}.
 *
 * <p>Arrays are row-major, {@code ids[p * k + j]}. Immutable: the constructor copies nothing, so
 * callers must not mutate the arrays they pass in; accessors return copies only where noted.
 */
public final class SoftLabels {
  private final int positions;
  private final int k;
  private final int[] ids;
  private final float[] probs;
  private final float[] tail;
  private final boolean sampled;

  public SoftLabels(int positions, int k, int[] ids, float[] probs, float[] tail) {
    this(positions, k, ids, probs, tail, false);
  }

  /**
   * @param sampled true when the labels are sampled counts ({@link SampledSoftLabelCodec}): each
   *     probability is {@code c / N}, an unbiased estimate of the teacher's, and the tail is 0;
   *     false for the teacher's exact top-k and tail mass
   */
  public SoftLabels(int positions, int k, int[] ids, float[] probs, float[] tail, boolean sampled) {
    if (positions < 0 || k <= 0) {
      throw new IllegalArgumentException(
          "positions must be >= 0 and k > 0, got " + positions + ", " + k);
    }
    if (ids.length != positions * k || probs.length != positions * k || tail.length != positions) {
      throw new IllegalArgumentException(
          "shape mismatch: positions="
              + positions
              + " k="
              + k
              + " ids="
              + ids.length
              + " probs="
              + probs.length
              + " tail="
              + tail.length);
    }
    this.positions = positions;
    this.k = k;
    this.ids = ids;
    this.probs = probs;
    this.tail = tail;
    this.sampled = sampled;
  }

  /** True for sampled labels (codec v2, probabilities {@code c / N}), false for top-k + tail. */
  public boolean sampled() {
    return sampled;
  }

  /**
   * The first {@code n} positions ({@code n <= positions}), same k, same kind (top-k or sampled).
   */
  public SoftLabels firstPositions(int n) {
    if (n < 0 || n > positions) {
      throw new IllegalArgumentException("n must be in [0, " + positions + "], got " + n);
    }
    return new SoftLabels(
        n,
        k,
        Arrays.copyOf(ids, n * k),
        Arrays.copyOf(probs, n * k),
        Arrays.copyOf(tail, n),
        sampled);
  }

  public int positions() {
    return positions;
  }

  public int k() {
    return k;
  }

  public int id(int position, int j) {
    return ids[position * k + j];
  }

  public float prob(int position, int j) {
    return probs[position * k + j];
  }

  public float tail(int position) {
    return tail[position];
  }

  /** Row-major ids, a copy. */
  public int[] ids() {
    return ids.clone();
  }

  /** Row-major probabilities, a copy. */
  public float[] probs() {
    return probs.clone();
  }

  /** Tail mass per position, a copy. */
  public float[] tails() {
    return tail.clone();
  }

  /** The top-1 id at a position (largest probability; lowest id on ties). */
  public int top1(int position) {
    int best = -1;
    float bestP = -1f;
    for (int j = 0; j < k; j++) {
      float p = prob(position, j);
      int id = id(position, j);
      if (p > bestP || (p == bestP && id < best)) {
        bestP = p;
        best = id;
      }
    }
    return best;
  }

  /** True when {@code token} is among the top-k ids at {@code position}. */
  public boolean contains(int position, int token) {
    for (int j = 0; j < k; j++) {
      if (id(position, j) == token) {
        return true;
      }
    }
    return false;
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof SoftLabels other)) {
      return false;
    }
    return positions == other.positions
        && k == other.k
        && sampled == other.sampled
        && Arrays.equals(ids, other.ids)
        && Arrays.equals(probs, other.probs)
        && Arrays.equals(tail, other.tail);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(ids) + Arrays.hashCode(probs);
  }

  @Override
  public String toString() {
    return "SoftLabels[positions=" + positions + ", k=" + k + (sampled ? ", sampled" : "") + "]";
  }
}
