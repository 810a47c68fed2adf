package dev.distill.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Rotary position embeddings (Su et al. 2021, "RoFormer", arXiv:2104.09864) in the "rotate half"
 * layout of Hugging Face's Llama ({@code modeling_llama.py}, {@code apply_rotary_pos_emb}): for
 * position p and i < d/2, {@code inv_freq_i = theta^(-2i/d)}, angle {@code p * inv_freq_i}, and
 * {@code x' = x * cos + rotate_half(x) * sin} with {@code rotate_half(x) = cat(-x[d/2:], x[:d/2])}
 * and cos/sin repeated over both halves.
 *
 * <p>The tables are plain float arrays, turned into arrays on the activation's manager per call (T
 * x d floats), so nothing of a step lands on the model's manager.
 */
public final class Rope {

  private final int headSize;
  private final int maxPositions;
  private final double theta;
  private final float[] cos;
  private final float[] sin;

  public Rope(int headSize, int maxPositions, double theta) {
    if (headSize < 2 || headSize % 2 != 0) {
      throw new IllegalArgumentException("RoPE needs an even head size, got " + headSize);
    }
    if (maxPositions < 1 || !(theta > 0)) {
      throw new IllegalArgumentException(
          "RoPE needs maxPositions >= 1 and theta > 0, got " + maxPositions + ", " + theta);
    }
    this.headSize = headSize;
    this.maxPositions = maxPositions;
    this.theta = theta;
    int half = headSize / 2;
    cos = new float[maxPositions * headSize];
    sin = new float[maxPositions * headSize];
    for (int i = 0; i < half; i++) {
      // as transformers computes it: inv_freq in float32, then position * inv_freq in float32
      float invFreq = (float) (1.0 / Math.pow(theta, (2.0 * i) / headSize));
      for (int p = 0; p < maxPositions; p++) {
        float angle = p * invFreq;
        float c = (float) Math.cos(angle);
        float s = (float) Math.sin(angle);
        cos[p * headSize + i] = c;
        cos[p * headSize + i + half] = c;
        sin[p * headSize + i] = s;
        sin[p * headSize + i + half] = s;
      }
    }
  }

  public double theta() {
    return theta;
  }

  public int maxPositions() {
    return maxPositions;
  }

  /** cos and sin of one forward's positions on its manager, shared by q, k and every layer. */
  private record Tables(NDManager manager, int p0, int t, NDArray cos, NDArray sin) {}

  private final ThreadLocal<Tables> last = new ThreadLocal<>();

  private Tables tables(NDManager manager, int p0, int t) {
    Tables tb = last.get();
    if (tb != null && tb.manager() == manager && tb.p0() == p0 && tb.t() == t) {
      return tb;
    }
    float[] c = new float[t * headSize];
    float[] s = new float[t * headSize];
    System.arraycopy(cos, p0 * headSize, c, 0, c.length);
    System.arraycopy(sin, p0 * headSize, s, 0, s.length);
    Shape shape = new Shape(t, headSize);
    tb = new Tables(manager, p0, t, manager.create(c, shape), manager.create(s, shape));
    last.set(tb);
    return tb;
  }

  /** Rotates {@code x} (B, H, T, headSize) whose positions are {@code p0 .. p0 + T - 1}. */
  public NDArray apply(NDArray x, int p0) {
    int t = Math.toIntExact(x.getShape().get(2));
    if (p0 < 0 || p0 + t > maxPositions) {
      throw new IllegalArgumentException(
          "positions [" + p0 + ", " + (p0 + t) + ") outside the RoPE table of " + maxPositions);
    }
    // the tables are made once per forward (manager and positions), not per layer and tensor
    Tables tb = tables(x.getManager(), p0, t);
    NDArray cosArr = tb.cos();
    NDArray sinArr = tb.sin();
    NDList halves = x.split(2, 3);
    NDArray rotated = halves.get(1).neg().concat(halves.get(0), 3);
    return x.mul(cosArr).add(rotated.mul(sinArr));
  }
}
