package dev.distill.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
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
   * Attention output (B * T, nHead * headSize), rows in (b, t) order, of the fused projection
   * {@code qkv} (B * T, (nHead + 2 nKvHead) * headSize) whose columns hold the query heads, then
   * the key heads, then the value heads.
   *
   * <p>Why fused and flat (issue 13): the q, k and v heads come out of one reshape, one transpose
   * and one split instead of a reshape and a transpose each; with one position (decoding) the
   * transpose is a reshape; the cache appends keys and values with one concatenation; RoPE turns q
   * and k in one call and carries the {@code 1/sqrt(headSize)} of the queries; grouped-query
   * attention puts the g query heads of a key/value head on the rows of one product ({@code q}
   * reshaped to (B, nKvHead, g T, headSize)) instead of repeating the keys and values g times.
   *
   * @param dropout dropout probability on the attention weights, applied when {@code training}
   * @param cache null for a full forward from position 0
   * @param layer the layer's index in {@code cache}
   */
  public static NDArray causal(
      Spec spec,
      NDArray qkv,
      long b,
      long t,
      float dropout,
      boolean training,
      DecodeCache cache,
      int layer) {
    int h = spec.nHead();
    int kvh = spec.nKvHead();
    int hs = spec.headSize();
    int n = h + 2 * kvh;
    int g = h / kvh;
    int p0 = cache == null ? 0 : cache.length();
    NDManager manager = qkv.getManager();
    float scale = (float) (1.0 / Math.sqrt(hs));
    // (B, n, T, hs); with one position, (B, 1, n, hs) and (B, n, 1, hs) have the same layout
    NDArray heads =
        t == 1 ? qkv.reshape(b, n, 1, hs) : qkv.reshape(b, t, n, hs).transpose(0, 2, 1, 3);
    boolean scaled = spec.rope() != null;
    if (scaled) {
      heads = spec.rope().rotate(heads, p0, h + kvh, h, scale);
    }
    // splits at indices (split_with_sizes) cost fewer engine ops than splits into sections
    NDArray q;
    NDArray k;
    NDArray v;
    if (cache == null) {
      // one split, so the backward joins the gradients of q, k and v with one concatenation
      NDList qkvHeads = heads.split(new long[] {h, h + kvh}, 1);
      q = qkvHeads.get(0);
      k = qkvHeads.get(1);
      v = qkvHeads.get(2);
    } else {
      NDList qAndKv = heads.split(new long[] {h}, 1);
      q = qAndKv.get(0);
      NDArray kv = qAndKv.get(1);
      if (p0 > 0) {
        // concat's result lands on the cached array's manager: move it to the step's, so the
        // views split from it below are freed with the step; put() then moves it to the cache.
        kv = cache.keysValues(layer).concat(kv, 2);
        kv.attach(manager);
      }
      NDList kAndV = kv.split(new long[] {kvh}, 1);
      k = kAndV.get(0);
      v = kAndV.get(1);
      cache.put(layer, kv);
    }
    if (g > 1) {
      // query heads j*g .. (j+1)*g-1 share kv head j (HF's repeat_kv): rows (i, t) of group j
      q = q.reshape(b, kvh, g * t, hs);
    }
    NDArray att = q.matMul(k.transpose(0, 1, 3, 2));
    if (!scaled) {
      att = att.muli(step(manager, (int) t, p0, g).scale(att, scale));
    }
    // one new position sees every cached key and itself: no mask needed
    if (t > 1) {
      // in place: the backward of an addition needs neither operand
      att = att.addi(step(manager, (int) t, p0, g).mask());
    }
    att = att.softmax(-1);
    if (training && dropout > 0f) {
      att = att.getNDArrayInternal().dropout(att, dropout, true).singletonOrThrow();
    }
    NDArray y = att.matMul(v);
    long c = (long) h * hs;
    if (t == 1) {
      return y.reshape(b, c);
    }
    if (g > 1) {
      y = y.reshape(b, h, t, hs);
    }
    return y.transpose(0, 2, 1, 3).reshape(b * t, c);
  }

  /**
   * What every layer of one forward shares, made on first use on the forward's manager: the scalar
   * {@code 1/sqrt(headSize)} (a libtorch-owned 0-d array, {@link Scalars#of}) and the mask. The
   * layers of a forward run on one manager with the same positions, so these are made once per
   * forward instead of once per layer; they are freed with the manager, and a new forward's new
   * manager makes new ones.
   */
  private static final class Step {
    private final NDManager manager;
    private final int t;
    private final int offset;
    private final int groups;
    private NDArray scale;
    private float scaleValue;
    private NDArray mask;

    Step(NDManager manager, int t, int offset, int groups) {
      this.manager = manager;
      this.t = t;
      this.offset = offset;
      this.groups = groups;
    }

    boolean matches(NDManager m, int t, int offset, int groups) {
      return manager == m && this.t == t && this.offset == offset && this.groups == groups;
    }

    NDArray scale(NDArray like, float value) {
      if (scale == null || scaleValue != value) {
        scale = Scalars.of(like, value);
        scaleValue = value;
      }
      return scale;
    }

    /** {@link #causalMask} with its T rows repeated for each of the g query heads of a group. */
    NDArray mask() {
      if (mask == null) {
        int keys = offset + t;
        float[] one = causalMaskValues(t, offset);
        float[] m = new float[groups * t * keys];
        for (int i = 0; i < groups; i++) {
          System.arraycopy(one, 0, m, i * one.length, one.length);
        }
        mask = manager.create(m, new Shape((long) groups * t, keys));
      }
      return mask;
    }
  }

  private static final ThreadLocal<Step> LAST = new ThreadLocal<>();

  private static Step step(NDManager manager, int t, int offset, int groups) {
    Step last = LAST.get();
    if (last != null && last.matches(manager, t, offset, groups)) {
      return last;
    }
    Step s = new Step(manager, t, offset, groups);
    LAST.set(s);
    return s;
  }

  /**
   * Additive mask (T, offset + T) for T queries at positions offset.. over the keys at positions
   * 0..offset+T-1: 0 where query i sees key j (j <= offset + i), -inf elsewhere.
   */
  public static NDArray causalMask(NDManager manager, int t, int offset) {
    return manager.create(causalMaskValues(t, offset), new Shape(t, offset + t));
  }

  private static float[] causalMaskValues(int t, int offset) {
    int keys = offset + t;
    float[] m = new float[t * keys];
    for (int i = 0; i < t; i++) {
      for (int j = offset + i + 1; j < keys; j++) {
        m[i * keys + j] = Float.NEGATIVE_INFINITY;
      }
    }
    return m;
  }
}
