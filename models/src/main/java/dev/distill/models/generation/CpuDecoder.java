package dev.distill.models.generation;

import dev.distill.models.gpt.KvCache;

/**
 * Decoding of one position per row in plain Java over a {@link CpuModel} snapshot, with the keys
 * and values in {@code float[]}, as llama2.c and llama.cpp decode on a CPU: a step of B rows is a
 * few matrix-vector products (B rows each) plus attention over the cache, with no engine call.
 *
 * <p>Why (issue 13): a batch-1 step of a small model is about 100 tiny engine ops (a 1 x 128 by 128
 * x 384 product is 49k multiply-adds), each costing DJL's per-op overhead of a few microseconds;
 * here the step is the arithmetic alone.
 *
 * <p>The cache per layer: keys and values (B, nKvHead, blockSize, headSize), keys after RoPE (Llama
 * family), as the engine's {@link KvCache} keeps them. Filled from an engine prefill by {@link
 * #load(KvCache)}, extended by {@link #step(int[])}. Not thread-safe.
 */
final class CpuDecoder {

  private final CpuModel m;
  private final float[][] keys;
  private final float[][] values;
  private int batch;
  private int length;

  // scratch, sized for the batch
  private float[] x;
  private float[] h;
  private float[] qkv;
  private float[] att;
  private float[] y;
  private float[] up;
  private float[] gate;
  private float[] scores;

  CpuDecoder(CpuModel model) {
    this.m = model;
    this.keys = new float[model.layers.length][];
    this.values = new float[model.layers.length][];
  }

  int length() {
    return length;
  }

  int batch() {
    return batch;
  }

  /** Forgets the cached positions. */
  void clear() {
    length = 0;
    batch = 0;
  }

  /** Copies the positions of an engine cache (one read-back per layer), replacing this cache's. */
  void load(KvCache cache) {
    int len = cache.length();
    int kvh = m.nKvHead;
    int hs = m.headSize;
    int t = m.blockSize;
    for (int l = 0; l < keys.length; l++) {
      // (B, 2 nKvHead, len, hs): the key heads, then the value heads
      float[] kv = cache.keysValues(l).toFloatArray();
      int b = kv.length / (2 * kvh * len * hs);
      if (l == 0) {
        resize(b);
      }
      for (int r = 0; r < b; r++) {
        for (int j = 0; j < 2 * kvh; j++) {
          float[] dst = j < kvh ? keys[l] : values[l];
          int head = j % kvh;
          System.arraycopy(
              kv, ((r * 2 * kvh + j) * len) * hs, dst, ((r * kvh + head) * t) * hs, len * hs);
        }
      }
    }
    length = len;
  }

  private void resize(int b) {
    int per = m.nKvHead * m.blockSize * m.headSize;
    for (int l = 0; l < keys.length; l++) {
      if (keys[l] == null || keys[l].length != b * per) {
        keys[l] = new float[b * per];
        values[l] = new float[b * per];
      }
    }
    int c = m.width;
    int q = m.nHead * m.headSize;
    x = new float[b * c];
    h = new float[b * Math.max(c, q)];
    qkv = new float[b * (q + 2 * m.nKvHead * m.headSize)];
    att = new float[b * q];
    y = new float[b * Math.max(c, m.vocab)];
    up = new float[b * m.inner];
    gate = m.act == CpuModel.Act.SWIGLU ? new float[b * m.inner] : null;
    scores = new float[m.blockSize];
    batch = b;
  }

  /** Keeps the cached rows {@code rows} (indices into the current batch, in the new order). */
  void retainRows(int[] rows) {
    int per = m.nKvHead * m.blockSize * m.headSize;
    for (int l = 0; l < keys.length; l++) {
      float[] k = new float[rows.length * per];
      float[] v = new float[rows.length * per];
      for (int i = 0; i < rows.length; i++) {
        System.arraycopy(keys[l], rows[i] * per, k, i * per, per);
        System.arraycopy(values[l], rows[i] * per, v, i * per, per);
      }
      keys[l] = k;
      values[l] = v;
    }
    int len = length;
    resize(rows.length);
    length = len;
  }

  /**
   * Runs the tokens {@code tokens} (one per cached row) at position {@code length()}, appends their
   * keys and values, and returns their logits (B, vocab). The caller checks the ids and that a
   * position is left.
   */
  float[][] step(int[] tokens) {
    int b = batch;
    int c = m.width;
    int hs = m.headSize;
    int nh = m.nHead;
    int kvh = m.nKvHead;
    int q = nh * hs;
    int kv = kvh * hs;
    int nq = q + 2 * kv;
    int pos = length;
    for (int r = 0; r < b; r++) {
      System.arraycopy(m.embed, tokens[r] * c, x, r * c, c);
      if (m.positions != null) {
        for (int j = 0; j < c; j++) {
          x[r * c + j] += m.positions[pos * c + j];
        }
      }
    }
    for (int l = 0; l < m.layers.length; l++) {
      CpuModel.Layer w = m.layers[l];
      norm(x, w.n1w(), w.n1b(), h);
      CpuKernels.linear(h, b, c, w.qkvT(), nq, w.qkvB(), qkv);
      if (m.ropeCos != null) {
        for (int r = 0; r < b; r++) {
          for (int head = 0; head < nh + kvh; head++) {
            rope(qkv, r * nq + head * hs, pos);
          }
        }
      }
      attention(l, b, pos);
      CpuKernels.linear(att, b, q, w.oT(), c, w.oB(), y);
      add(x, y, b * c);
      norm(x, w.n2w(), w.n2b(), h);
      int in = m.inner;
      CpuKernels.linear(h, b, c, w.upT(), in, w.upB(), up);
      switch (m.act) {
        case GELU -> CpuKernels.gelu(up, b * in);
        case GELU_TANH -> CpuKernels.geluTanh(up, b * in);
        case SWIGLU -> {
          CpuKernels.linear(h, b, c, w.gateT(), in, w.gateB(), gate);
          CpuKernels.siluMul(gate, up, b * in);
          System.arraycopy(gate, 0, up, 0, b * in);
        }
      }
      CpuKernels.linear(up, b, in, w.downT(), c, w.downB(), y);
      add(x, y, b * c);
    }
    norm(x, m.nfw, m.nfb, h);
    int v = m.vocab;
    CpuKernels.linear(h, b, c, m.headT, v, null, y);
    length++;
    float[][] out = new float[b][];
    for (int r = 0; r < b; r++) {
      out[r] = java.util.Arrays.copyOfRange(y, r * v, (r + 1) * v);
    }
    return out;
  }

  private void norm(float[] in, float[] w, float[] bias, float[] out) {
    if (m.norm == CpuModel.Norm.LAYER) {
      CpuKernels.layerNorm(in, batch, m.width, w, bias, m.eps, out);
    } else {
      CpuKernels.rmsNorm(in, batch, m.width, w, m.eps, out);
    }
  }

  private static void add(float[] x, float[] y, int n) {
    for (int i = 0; i < n; i++) {
      x[i] += y[i];
    }
  }

  /**
   * RoPE (Su et al. 2021, arXiv:2104.09864) in Hugging Face's rotate-half layout on the head at
   * {@code at}: {@code x' = x cos + rotate_half(x) sin}, {@code rotate_half(x) = cat(-x2, x1)}.
   */
  private void rope(float[] a, int at, int pos) {
    int half = m.headSize / 2;
    int t = pos * half;
    for (int i = 0; i < half; i++) {
      float cs = m.ropeCos[t + i];
      float sn = m.ropeSin[t + i];
      float x1 = a[at + i];
      float x2 = a[at + i + half];
      a[at + i] = x1 * cs - x2 * sn;
      a[at + i + half] = x2 * cs + x1 * sn;
    }
  }

  /**
   * Appends the new keys and values of layer {@code l} at {@code pos} and writes {@code softmax(q
   * k^T / sqrt(headSize)) v} of every query head into {@code att} (B, nHead * headSize); query head
   * i reads key/value head {@code i / (nHead / nKvHead)} (grouped-query attention, Ainslie et al.
   * 2023, arXiv:2305.13245).
   */
  private void attention(int l, int b, int pos) {
    int hs = m.headSize;
    int nh = m.nHead;
    int kvh = m.nKvHead;
    int g = nh / kvh;
    int q = nh * hs;
    int nq = q + 2 * kvh * hs;
    int t = m.blockSize;
    float[] k = keys[l];
    float[] v = values[l];
    float scale = (float) (1.0 / Math.sqrt(hs));
    for (int r = 0; r < b; r++) {
      int row = r * nq;
      for (int j = 0; j < kvh; j++) {
        int base = ((r * kvh + j) * t) * hs;
        System.arraycopy(qkv, row + q + j * hs, k, base + pos * hs, hs);
        System.arraycopy(qkv, row + q + kvh * hs + j * hs, v, base + pos * hs, hs);
      }
      for (int head = 0; head < nh; head++) {
        int qo = row + head * hs;
        int base = ((r * kvh + head / g) * t) * hs;
        for (int p = 0; p <= pos; p++) {
          int ko = base + p * hs;
          float s = 0f;
          for (int d = 0; d < hs; d++) {
            s += qkv[qo + d] * k[ko + d];
          }
          scores[p] = s * scale;
        }
        CpuKernels.softmax(scores, 0, pos + 1);
        int out = r * q + head * hs;
        java.util.Arrays.fill(att, out, out + hs, 0f);
        for (int p = 0; p <= pos; p++) {
          float a = scores[p];
          int vo = base + p * hs;
          for (int d = 0; d < hs; d++) {
            att[out + d] += a * v[vo + d];
          }
        }
      }
    }
  }
}
