package dev.distill.models.generation;

import dev.distill.models.gpt.KvCache;
import java.util.Arrays;

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

  /**
   * Keys per layer and (row, kv head), transposed: {@code [headSize][capacity]}, so the scores of
   * one query over every cached position are axpy loops over positions (C2 vectorises them).
   */
  private float[][][][] keys;

  /** Values per layer and (row, kv head): {@code [capacity][headSize]}. */
  private float[][][][] values;

  private int capacity;
  private int batch;
  private int length;

  // scratch, one array per row of the batch
  private float[][] x;
  private float[][] h;
  private float[][] qkv;
  private float[][] att;
  private float[][] y;
  private float[][] up;
  private float[][] gate;
  private float[] scores;
  private float[] headOut;
  private final float[] ropeCos;
  private final float[] ropeSin;

  CpuDecoder(CpuModel model) {
    this.m = model;
    this.ropeCos = new float[model.headSize / 2];
    this.ropeSin = new float[model.headSize / 2];
  }

  int length() {
    return length;
  }

  int batch() {
    return batch;
  }

  /** Copies the positions of an engine cache (one read-back per layer), replacing this cache's. */
  void load(KvCache cache) {
    int len = cache.length();
    int kvh = m.nKvHead;
    int hs = m.headSize;
    int layers = m.layers.length;
    for (int l = 0; l < layers; l++) {
      // (B, 2 nKvHead, len, hs): the key heads, then the value heads
      float[] kv = cache.keysValues(l).toFloatArray();
      int b = kv.length / (2 * kvh * len * hs);
      if (l == 0) {
        allocate(b, Math.min(m.blockSize, Math.max(len + 1, 32)));
      }
      for (int r = 0; r < b; r++) {
        for (int j = 0; j < kvh; j++) {
          float[][] kt = keys[l][r * kvh + j];
          float[][] vs = values[l][r * kvh + j];
          int kOff = (r * 2 * kvh + j) * len * hs;
          int vOff = (r * 2 * kvh + kvh + j) * len * hs;
          for (int p = 0; p < len; p++) {
            for (int d = 0; d < hs; d++) {
              kt[d][p] = kv[kOff + p * hs + d];
            }
            System.arraycopy(kv, vOff + p * hs, vs[p], 0, hs);
          }
        }
      }
    }
    length = len;
  }

  /** Empty caches of {@code cap} positions and scratch for {@code b} rows. */
  private void allocate(int b, int cap) {
    int layers = m.layers.length;
    int kvh = m.nKvHead;
    int hs = m.headSize;
    keys = new float[layers][b * kvh][hs][cap];
    values = new float[layers][b * kvh][cap][hs];
    capacity = cap;
    scratch(b);
  }

  private void scratch(int b) {
    int c = m.width;
    int q = m.nHead * m.headSize;
    x = new float[b][c];
    h = new float[b][c];
    qkv = new float[b][q + 2 * m.nKvHead * m.headSize];
    att = new float[b][q];
    y = new float[b][Math.max(c, m.vocab)];
    up = new float[b][m.inner];
    gate = m.act == CpuModel.Act.SWIGLU ? new float[b][m.inner] : null;
    scores = new float[m.blockSize];
    headOut = new float[m.headSize];
    batch = b;
  }

  /** Doubles the cache's positions (up to blockSize) when the next one does not fit. */
  private void grow() {
    int cap = Math.min(m.blockSize, 2 * capacity);
    for (float[][][] layer : keys) {
      for (float[][] kt : layer) {
        for (int d = 0; d < kt.length; d++) {
          kt[d] = Arrays.copyOf(kt[d], cap);
        }
      }
    }
    for (int l = 0; l < values.length; l++) {
      for (int i = 0; i < values[l].length; i++) {
        float[][] vs = Arrays.copyOf(values[l][i], cap);
        for (int p = capacity; p < cap; p++) {
          vs[p] = new float[m.headSize];
        }
        values[l][i] = vs;
      }
    }
    capacity = cap;
  }

  /** Keeps the cached rows {@code rows} (indices into the current batch, in the new order). */
  void retainRows(int[] rows) {
    int kvh = m.nKvHead;
    boolean[] taken = new boolean[batch];
    for (int l = 0; l < keys.length; l++) {
      float[][][] k = new float[rows.length * kvh][][];
      float[][][] v = new float[rows.length * kvh][][];
      Arrays.fill(taken, false);
      for (int i = 0; i < rows.length; i++) {
        // a row kept twice gets its own copy, so the two never write into one array
        boolean copy = taken[rows[i]];
        taken[rows[i]] = true;
        for (int j = 0; j < kvh; j++) {
          k[i * kvh + j] = copy ? deepCopy(keys[l][rows[i] * kvh + j]) : keys[l][rows[i] * kvh + j];
          v[i * kvh + j] =
              copy ? deepCopy(values[l][rows[i] * kvh + j]) : values[l][rows[i] * kvh + j];
        }
      }
      keys[l] = k;
      values[l] = v;
    }
    scratch(rows.length);
  }

  private static float[][] deepCopy(float[][] a) {
    float[][] out = new float[a.length][];
    for (int i = 0; i < a.length; i++) {
      out[i] = a[i].clone();
    }
    return out;
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
    int pos = length;
    if (pos == capacity) {
      grow();
    }
    for (int r = 0; r < b; r++) {
      System.arraycopy(m.embed, tokens[r] * c, x[r], 0, c);
      if (m.positions != null) {
        float[] xr = x[r];
        int at = pos * c;
        for (int j = 0; j < c; j++) {
          xr[j] += m.positions[at + j];
        }
      }
    }
    for (int l = 0; l < m.layers.length; l++) {
      CpuModel.Layer w = m.layers[l];
      norm(x, w.n1w(), w.n1b(), h);
      CpuKernels.linear(h, b, w.qkvT(), w.qkvB(), qkv);
      if (m.ropeInvFreq != null) {
        if (l == 0) {
          ropeAngles(pos);
        }
        for (int r = 0; r < b; r++) {
          for (int head = 0; head < nh + kvh; head++) {
            rope(qkv[r], head * hs, pos);
          }
        }
      }
      attention(l, b, pos);
      CpuKernels.linear(att, b, w.oT(), w.oB(), y);
      add(x, y, b, c);
      norm(x, w.n2w(), w.n2b(), h);
      int in = m.inner;
      CpuKernels.linear(h, b, w.upT(), w.upB(), up);
      for (int r = 0; r < b; r++) {
        switch (m.act) {
          case GELU -> CpuKernels.gelu(up[r], in);
          case GELU_TANH -> CpuKernels.geluTanh(up[r], in);
          case SWIGLU -> {}
        }
      }
      if (m.act == CpuModel.Act.SWIGLU) {
        CpuKernels.linear(h, b, w.gateT(), w.gateB(), gate);
        for (int r = 0; r < b; r++) {
          CpuKernels.siluMul(gate[r], up[r], in);
        }
        CpuKernels.linear(gate, b, w.downT(), w.downB(), y);
      } else {
        CpuKernels.linear(up, b, w.downT(), w.downB(), y);
      }
      add(x, y, b, c);
    }
    norm(x, m.nfw, m.nfb, h);
    int v = m.vocab;
    CpuKernels.linear(h, b, m.headT, null, y);
    length++;
    float[][] out = new float[b][];
    for (int r = 0; r < b; r++) {
      out[r] = Arrays.copyOf(y[r], v);
    }
    return out;
  }

  private void norm(float[][] in, float[] w, float[] bias, float[][] out) {
    if (m.norm == CpuModel.Norm.LAYER) {
      CpuKernels.layerNorm(in, batch, m.width, w, bias, m.eps, out);
    } else {
      CpuKernels.rmsNorm(in, batch, m.width, w, m.eps, out);
    }
  }

  private static void add(float[][] x, float[][] y, int rows, int n) {
    for (int r = 0; r < rows; r++) {
      float[] xr = x[r];
      float[] yr = y[r];
      for (int i = 0; i < n; i++) {
        xr[i] += yr[i];
      }
    }
  }

  /** cos and sin of position {@code pos}'s angles, {@code pos * inv_freq} in float32 as Rope. */
  private void ropeAngles(int pos) {
    for (int i = 0; i < m.ropeInvFreq.length; i++) {
      float angle = pos * m.ropeInvFreq[i];
      ropeCos[i] = (float) Math.cos(angle);
      ropeSin[i] = (float) Math.sin(angle);
    }
  }

  /**
   * RoPE (Su et al. 2021, arXiv:2104.09864) in Hugging Face's rotate-half layout on the head at
   * {@code at}: {@code x' = x cos + rotate_half(x) sin}, {@code rotate_half(x) = cat(-x2, x1)}.
   */
  private void rope(float[] a, int at, int pos) {
    int half = m.headSize / 2;
    for (int i = 0; i < half; i++) {
      float cs = ropeCos[i];
      float sn = ropeSin[i];
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
    int n = pos + 1;
    float scale = (float) (1.0 / Math.sqrt(hs));
    float[] s = scores;
    float[] o = headOut;
    for (int r = 0; r < b; r++) {
      float[] row = qkv[r];
      for (int j = 0; j < kvh; j++) {
        float[][] kt = keys[l][r * kvh + j];
        for (int d = 0; d < hs; d++) {
          kt[d][pos] = row[q + j * hs + d];
        }
        System.arraycopy(row, q + kvh * hs + j * hs, values[l][r * kvh + j][pos], 0, hs);
      }
      for (int head = 0; head < nh; head++) {
        int qo = head * hs;
        float[][] kt = keys[l][r * kvh + head / g];
        float[][] vs = values[l][r * kvh + head / g];
        Arrays.fill(s, 0, n, 0f);
        for (int d = 0; d < hs; d++) {
          float qd = row[qo + d];
          float[] kd = kt[d];
          for (int p = 0; p < n; p++) {
            s[p] += qd * kd[p];
          }
        }
        for (int p = 0; p < n; p++) {
          s[p] *= scale;
        }
        CpuKernels.softmax(s, 0, n);
        Arrays.fill(o, 0f);
        for (int p = 0; p < n; p++) {
          float a = s[p];
          float[] vp = vs[p];
          for (int d = 0; d < hs; d++) {
            o[d] += a * vp[d];
          }
        }
        System.arraycopy(o, 0, att[r], qo, hs);
      }
    }
  }
}
