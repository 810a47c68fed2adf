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
 * <p>The tables are plain float arrays, turned into rotation matrices on the activation's manager
 * once per forward, so nothing of a step lands on the model's manager.
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

  /**
   * What one forward's layers share, on its manager: for one position the per-head rotation
   * matrices (n, hs, hs); for T positions the per-head cos and sin tables (n, T, hs).
   */
  private record Tables(
      NDManager manager,
      int p0,
      int t,
      int rotated,
      int scaled,
      int heads,
      float qScale,
      NDArray m,
      NDArray cos,
      NDArray sin) {
    boolean matches(NDManager mg, int p0, int t, int rotated, int scaled, int heads, float q) {
      return manager == mg
          && this.p0 == p0
          && this.t == t
          && this.rotated == rotated
          && this.scaled == scaled
          && this.heads == heads
          && qScale == q;
    }
  }

  private final ThreadLocal<Tables> last = new ThreadLocal<>();

  /**
   * Rotates the first {@code rotated} heads of {@code x} (B, heads, T, headSize), whose positions
   * are {@code p0 .. p0 + T - 1}, and multiplies the first {@code scaled} of them by {@code
   * qScale}; the other heads pass unchanged (so q, k and v of a fused projection go through in one
   * call, and the attention's {@code 1/sqrt(d)} is folded into the query heads: issue 13, decoding
   * is bound by the number of engine ops).
   *
   * <p>One position (decoding): one matrix product, row vector {@code x} of a rotated head times
   * {@code M = diag(cos) + P diag(sin)} where {@code P} maps {@code x} to {@code rotate_half(x)}
   * ({@code P[j + d/2][j] = -1}, {@code P[j - d/2][j] = 1}), i.e. {@code x cos + rotate_half(x)
   * sin}; the identity for the other heads. Several positions: HF's element-wise form with per-head
   * tables (cos 1 and sin 0 for the heads that do not rotate). Either equals HF's up to float
   * rounding.
   */
  public NDArray rotate(NDArray x, int p0, int rotated, int scaled, float qScale) {
    Shape s = x.getShape();
    int heads = Math.toIntExact(s.get(1));
    int t = Math.toIntExact(s.get(2));
    if (p0 < 0 || p0 + t > maxPositions) {
      throw new IllegalArgumentException(
          "positions [" + p0 + ", " + (p0 + t) + ") outside the RoPE table of " + maxPositions);
    }
    NDManager manager = x.getManager();
    Tables tb = last.get();
    if (tb == null || !tb.matches(manager, p0, t, rotated, scaled, heads, qScale)) {
      tb = tables(manager, p0, t, rotated, scaled, heads, qScale);
      last.set(tb);
    }
    if (t == 1) {
      // (B, n, 1, hs) x (n, hs, hs): the batch axes broadcast
      return x.matMul(tb.m());
    }
    NDList halves = x.split(2, 3);
    NDArray rotatedHalf = halves.get(1).neg().concat(halves.get(0), 3);
    return x.mul(tb.cos()).add(rotatedHalf.mul(tb.sin()));
  }

  private Tables tables(
      NDManager manager, int p0, int t, int rotated, int scaled, int heads, float qScale) {
    int d = headSize;
    int half = d / 2;
    if (t == 1) {
      float[] m = new float[heads * d * d];
      for (int h = 0; h < heads; h++) {
        float scale = h < scaled ? qScale : 1f;
        int base = h * d * d;
        for (int j = 0; j < d; j++) {
          if (h >= rotated) {
            m[base + j * d + j] = scale;
            continue;
          }
          m[base + j * d + j] = cos[p0 * d + j] * scale;
          float sn = sin[p0 * d + j] * scale;
          if (j < half) {
            m[base + (j + half) * d + j] = -sn;
          } else {
            m[base + (j - half) * d + j] = sn;
          }
        }
      }
      NDArray arr = manager.create(m, new Shape(heads, d, d));
      return new Tables(manager, p0, t, rotated, scaled, heads, qScale, arr, null, null);
    }
    float[] c = new float[heads * t * d];
    float[] sn = new float[heads * t * d];
    for (int h = 0; h < heads; h++) {
      float scale = h < scaled ? qScale : 1f;
      for (int i = 0; i < t * d; i++) {
        int at = h * t * d + i;
        c[at] = (h < rotated ? cos[p0 * d + i] : 1f) * scale;
        sn[at] = h < rotated ? sin[p0 * d + i] * scale : 0f;
      }
    }
    Shape shape = new Shape(heads, t, d);
    return new Tables(
        manager,
        p0,
        t,
        rotated,
        scaled,
        heads,
        qScale,
        null,
        manager.create(c, shape),
        manager.create(sn, shape));
  }
}
