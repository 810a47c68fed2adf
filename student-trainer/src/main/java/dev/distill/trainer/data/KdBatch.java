package dev.distill.trainer.data;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.distill.schemas.codec.SoftLabels;
import java.util.List;

/**
 * A batch of {@link Example}s on a device, T = the longest example's positions; shorter examples
 * are right-padded:
 *
 * <ul>
 *   <li>{@code inputs} (B, T) int64 = {@code tokens[0..T-1]} (padding 0);
 *   <li>{@code targets} (B, T) int64 = {@code tokens[1..T]} (padding 0);
 *   <li>{@code topkIds} (B, T, k) int64 (padding 0..k-1), {@code topkProbs} (B, T, k) float32
 *       (padding 0), {@code tail} (B, T) float32 (padding 1);
 *   <li>{@code mask} (B, T) float32, 1 on real positions, 0 on padding;
 *   <li>{@code weights} (B) float32, each example's curated weight (not applied by the losses).
 * </ul>
 *
 * All arrays are created in the manager passed to {@link #of}; {@link #close} closes them (closing
 * the manager does too).
 */
public final class KdBatch implements AutoCloseable {
  private final NDArray inputs;
  private final NDArray targets;
  private final NDArray topkIds;
  private final NDArray topkProbs;
  private final NDArray tail;
  private final NDArray mask;
  private final NDArray weights;
  private final long tokenCount;
  private final boolean sampled;

  private KdBatch(
      NDArray inputs,
      NDArray targets,
      NDArray topkIds,
      NDArray topkProbs,
      NDArray tail,
      NDArray mask,
      NDArray weights,
      long tokenCount,
      boolean sampled) {
    this.inputs = inputs;
    this.targets = targets;
    this.topkIds = topkIds;
    this.topkProbs = topkProbs;
    this.tail = tail;
    this.mask = mask;
    this.weights = weights;
    this.tokenCount = tokenCount;
    this.sampled = sampled;
  }

  /**
   * Builds the batch in {@code manager}.
   *
   * @throws IllegalArgumentException when {@code examples} is empty or the examples' k differ
   */
  public static KdBatch of(NDManager manager, List<Example> examples) {
    if (examples.isEmpty()) {
      throw new IllegalArgumentException("a batch needs at least one example");
    }
    int b = examples.size();
    int k = examples.get(0).labels().k();
    boolean sampled = examples.get(0).labels().sampled();
    int t = 0;
    for (Example e : examples) {
      if (e.labels().sampled() != sampled) {
        throw new IllegalArgumentException(
            "examples mix sampled and top-k soft labels: "
                + examples.get(0).id()
                + (sampled ? " is sampled, " : " is top-k, ")
                + e.id()
                + (sampled ? " is top-k" : " is sampled"));
      }
      if (e.labels().k() != k) {
        throw new IllegalArgumentException(
            "examples mix k: "
                + examples.get(0).id()
                + " has k="
                + k
                + ", "
                + e.id()
                + " has k="
                + e.labels().k());
      }
      t = Math.max(t, e.positions());
    }
    long[] in = new long[b * t];
    long[] out = new long[b * t];
    long[] ids = new long[b * t * k];
    float[] probs = new float[b * t * k];
    float[] tails = new float[b * t];
    float[] m = new float[b * t];
    float[] w = new float[b];
    java.util.Arrays.fill(tails, 1f);
    long count = 0;
    for (int i = 0; i < b; i++) {
      Example e = examples.get(i);
      int[] tok = e.tokens();
      SoftLabels lab = e.labels();
      int n = e.positions();
      w[i] = e.weight();
      for (int p = 0; p < t; p++) {
        int row = i * t + p;
        if (p < n) {
          in[row] = tok[p];
          out[row] = tok[p + 1];
          tails[row] = lab.tail(p);
          m[row] = 1f;
          for (int j = 0; j < k; j++) {
            ids[row * k + j] = lab.id(p, j);
            probs[row * k + j] = lab.prob(p, j);
          }
        } else {
          for (int j = 0; j < k; j++) {
            ids[row * k + j] = j;
          }
        }
      }
      count += n;
    }
    Shape bt = new Shape(b, t);
    Shape btk = new Shape(b, t, k);
    return new KdBatch(
        manager.create(in, bt),
        manager.create(out, bt),
        manager.create(ids, btk),
        manager.create(probs, btk),
        manager.create(tails, bt),
        manager.create(m, bt),
        manager.create(w, new Shape(b)),
        count,
        sampled);
  }

  /** (B, T) int64, the model's input ids. */
  public NDArray inputs() {
    return inputs;
  }

  /** (B, T) int64, the next token at each position (hard labels). */
  public NDArray targets() {
    return targets;
  }

  /** (B, T, k) int64, the teacher's top-k ids, ascending within a position. */
  public NDArray topkIds() {
    return topkIds;
  }

  /** (B, T, k) float32, the teacher's top-k probabilities at the labels' temperature. */
  public NDArray topkProbs() {
    return topkProbs;
  }

  /** (B, T) float32, the teacher's mass outside the top-k. */
  public NDArray tail() {
    return tail;
  }

  /** (B, T) float32, 1 on real positions, 0 on right padding. */
  public NDArray mask() {
    return mask;
  }

  /** (B) float32, each example's curated weight. */
  public NDArray weights() {
    return weights;
  }

  /**
   * True when the labels are sampled counts (codec v2): then {@link #topkIds} are the drawn ids and
   * {@link #topkProbs} their weights {@code c / N} (padding at 0), and {@link #tail} is 0.
   */
  public boolean sampled() {
    return sampled;
  }

  /** Real (unpadded) positions in the batch, the sum of {@link #mask}. */
  public long tokenCount() {
    return tokenCount;
  }

  @Override
  public void close() {
    inputs.close();
    targets.close();
    topkIds.close();
    topkProbs.close();
    tail.close();
    mask.close();
    weights.close();
  }
}
