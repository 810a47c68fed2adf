package dev.distill.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.distill.models.autograd.Scalars;

/**
 * Causal multi-head self-attention on projected queries, keys and values, shared by every model
 * family: {@code softmax(q k^T / sqrt(headSize) + causalMask) v} per head (Vaswani et al. 2017),
 * with optional rotary position embeddings on q and k (RoPE, Su et al. 2021, arXiv:2104.09864) and
 * grouped-query attention (Ainslie et al. 2023, arXiv:2305.13245): {@code nHead / nKvHead} query
 * heads share each key/value head, as Hugging Face's {@code repeat_kv} does (kv head j serves query
 * heads {@code j * g .. (j + 1) * g - 1}).
 *
 * <p>With a {@link DecodeCache}, the new positions start at {@code cache.length()}, attend to the
 * cached keys and values and to the new ones up to themselves, and the cache keeps the keys (after
 * RoPE) and values in their nKvHead form.
 */
public final class Attention {

  private Attention() {}

  /** The shape of one attention: heads, key/value heads, head size, optional RoPE. */
  public record Spec(int nHead, int nKvHead, int headSize, Rope rope) {
    public Spec {
      if (nHead < 1 || nKvHead < 1 || nHead % nKvHead != 0) {
        throw new IllegalArgumentException(
            "nHead (" + nHead + ") must be a positive multiple of nKvHead (" + nKvHead + ")");
      }
      if (headSize < 1) {
        throw new IllegalArgumentException("headSize must be positive, got " + headSize);
      }
    }
  }

  /**
   * Attention output (B, T, nHead * headSize) of the projections {@code q} (B, T, nHead *
   * headSize), {@code k} and {@code v} (B, T, nKvHead * headSize).
   *
   * @param dropout dropout probability on the attention weights, applied when {@code training}
   * @param cache null for a full forward from position 0
   * @param layer the layer's index in {@code cache}
   */
  public static NDArray causal(
      Spec spec,
      NDArray q,
      NDArray k,
      NDArray v,
      float dropout,
      boolean training,
      DecodeCache cache,
      int layer) {
    long b = q.getShape().get(0);
    long t = q.getShape().get(1);
    int hs = spec.headSize();
    int p0 = cache == null ? 0 : cache.length();
    NDManager manager = q.getManager();
    NDArray qh = heads(q, b, t, spec.nHead(), hs);
    NDArray kh = heads(k, b, t, spec.nKvHead(), hs);
    NDArray vh = heads(v, b, t, spec.nKvHead(), hs);
    if (spec.rope() != null) {
      qh = spec.rope().apply(qh, p0);
      kh = spec.rope().apply(kh, p0);
    }
    if (cache != null) {
      if (p0 > 0) {
        // concat's result lands on the cached array's manager: move it to the step's, so the
        // views derived from it below are freed with the step; put() moves it to the cache.
        kh = cache.keys(layer).concat(kh, 2);
        kh.attach(manager);
        vh = cache.values(layer).concat(vh, 2);
        vh.attach(manager);
      }
      cache.put(layer, kh, vh);
    }
    int groups = spec.nHead() / spec.nKvHead();
    if (groups > 1) {
      // repeat_interleave on the head axis: kv head j -> query heads j*g .. (j+1)*g-1
      kh = kh.repeat(1, groups);
      vh = vh.repeat(1, groups);
    }
    float scale = (float) (1.0 / Math.sqrt(hs));
    NDArray att = Scalars.muli(qh.matMul(kh.transpose(0, 1, 3, 2)), scale);
    // one new position sees every cached key and itself: no mask needed
    if (t > 1) {
      att = att.add(stepMask(manager, (int) t, p0));
    }
    att = att.softmax(-1);
    if (training && dropout > 0f) {
      att = att.getNDArrayInternal().dropout(att, dropout, true).singletonOrThrow();
    }
    return att.matMul(vh).transpose(0, 2, 1, 3).reshape(b, t, (long) spec.nHead() * hs);
  }

  /** (B, T, n * hs) -> (B, n, T, hs). */
  private static NDArray heads(NDArray a, long b, long t, int n, long hs) {
    return a.reshape(b, t, n, hs).transpose(0, 2, 1, 3);
  }

  /** The last mask this thread made, reused by every layer of one forward. */
  private record Mask(NDManager manager, int t, int offset, NDArray mask) {}

  private static final ThreadLocal<Mask> LAST_MASK = new ThreadLocal<>();

  /**
   * {@link #causalMask} made once per forward instead of once per layer: the layers of a forward
   * run on one manager with the same positions, so a mask made for that manager is reused (it is
   * freed with the manager, and a new forward's new manager makes a new one).
   */
  private static NDArray stepMask(NDManager manager, int t, int offset) {
    Mask last = LAST_MASK.get();
    if (last != null && last.manager() == manager && last.t() == t && last.offset() == offset) {
      return last.mask();
    }
    NDArray mask = causalMask(manager, t, offset);
    LAST_MASK.set(new Mask(manager, t, offset, mask));
    return mask;
  }

  /**
   * Additive mask (T, offset + T) for T queries at positions offset.. over the keys at positions
   * 0..offset+T-1: 0 where query i sees key j (j <= offset + i), -inf elsewhere.
   */
  public static NDArray causalMask(NDManager manager, int t, int offset) {
    int keys = offset + t;
    float[] m = new float[t * keys];
    for (int i = 0; i < t; i++) {
      for (int j = offset + i + 1; j < keys; j++) {
        m[i * keys + j] = Float.NEGATIVE_INFINITY;
      }
    }
    return manager.create(m, new Shape(t, keys));
  }
}
