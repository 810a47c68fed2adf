package dev.distill.models.generation;

import java.util.Arrays;

/**
 * The float kernels of {@link CpuDecoder}: plain Java over {@code float[]}, written so HotSpot's C2
 * auto-vectorises the inner loops (contiguous arrays, invariant offsets, no calls or branches in
 * the innermost loop). No {@code jdk.incubator.vector}: every JVM that runs generation (launcher,
 * surefire, Spark executors) would have to add that module.
 */
final class CpuKernels {

  private CpuKernels() {}

  /**
   * {@code y = x W^T + b} for {@code rows} rows: {@code x[r]} (in), {@code wt} = W^T as in rows of
   * out ({@code wt[i][o] = W[o][i]}, transposed once when the weights are copied), b (out) or null,
   * {@code y[r]} (at least out).
   *
   * <p>Why this shape (issue 13): in axpy form, {@code y[o] += x[i] * wt[i][o]} runs over
   * contiguous {@code o}, which C2 turns into SIMD loads, multiplies and adds; a dot-product form
   * would be a float reduction, which C2 does not vectorise (it may not reorder float additions).
   * Every array of the inner loop is indexed by the loop variable alone: with one flat array and
   * offsets, C2 (JDK 17) cannot rule out that y and W are the same array at overlapping offsets and
   * leaves the loop scalar (a one-off probe in session 7, under load: 3.5 vs 18 GMAC/s for 128 x
   * 384). Four input rows per pass quarter the loads and stores of {@code y}; the four weight rows
   * of a pass serve every row of the batch while they are in L1.
   */
  static void linear(float[][] x, int rows, float[][] wt, float[] b, float[][] y) {
    int in = wt.length;
    int out = wt[0].length;
    for (int r = 0; r < rows; r++) {
      if (b == null) {
        Arrays.fill(y[r], 0, out, 0f);
      } else {
        System.arraycopy(b, 0, y[r], 0, out);
      }
    }
    int i = 0;
    for (; i + 3 < in; i += 4) {
      float[] w0 = wt[i];
      float[] w1 = wt[i + 1];
      float[] w2 = wt[i + 2];
      float[] w3 = wt[i + 3];
      for (int r = 0; r < rows; r++) {
        float[] xr = x[r];
        float a0 = xr[i];
        float a1 = xr[i + 1];
        float a2 = xr[i + 2];
        float a3 = xr[i + 3];
        float[] yr = y[r];
        for (int o = 0; o < out; o++) {
          yr[o] += a0 * w0[o] + a1 * w1[o] + a2 * w2[o] + a3 * w3[o];
        }
      }
    }
    for (; i < in; i++) {
      float[] w0 = wt[i];
      for (int r = 0; r < rows; r++) {
        float a0 = x[r][i];
        float[] yr = y[r];
        for (int o = 0; o < out; o++) {
          yr[o] += a0 * w0[o];
        }
      }
    }
  }

  /**
   * LayerNorm (Ba et al. 2016) of each of {@code rows} rows of width {@code c}: {@code (x - mean) /
   * sqrt(var + eps) * g + b}, biased variance (as torch's layer_norm), into {@code y}.
   */
  static void layerNorm(
      float[][] xs, int rows, int c, float[] g, float[] b, float eps, float[][] ys) {
    for (int r = 0; r < rows; r++) {
      float[] x = xs[r];
      float[] y = ys[r];
      int o = 0;
      float sum = 0f;
      for (int j = 0; j < c; j++) {
        sum += x[o + j];
      }
      float mean = sum / c;
      float var = 0f;
      for (int j = 0; j < c; j++) {
        float d = x[o + j] - mean;
        var += d * d;
      }
      float inv = (float) (1.0 / Math.sqrt(var / c + eps));
      for (int j = 0; j < c; j++) {
        y[o + j] = (x[o + j] - mean) * inv * g[j] + b[j];
      }
    }
  }

  /**
   * RMSNorm (Zhang and Sennrich 2019, arXiv:1910.07467), as Hugging Face's {@code LlamaRMSNorm}:
   * {@code x / sqrt(mean(x^2) + eps) * w} per row.
   */
  static void rmsNorm(float[][] xs, int rows, int c, float[] w, float eps, float[][] ys) {
    for (int r = 0; r < rows; r++) {
      float[] x = xs[r];
      float[] y = ys[r];
      int o = 0;
      float ss = 0f;
      for (int j = 0; j < c; j++) {
        ss += x[o + j] * x[o + j];
      }
      float inv = (float) (1.0 / Math.sqrt(ss / c + eps));
      for (int j = 0; j < c; j++) {
        y[o + j] = x[o + j] * inv * w[j];
      }
    }
  }

  /**
   * erf(x) by Abramowitz and Stegun, Handbook of Mathematical Functions (1964), formula 7.1.26:
   * {@code erf(x) = 1 - (a1 t + a2 t^2 + a3 t^3 + a4 t^4 + a5 t^5) exp(-x^2)}, {@code t = 1 / (1 +
   * p x)} for x >= 0 (odd for x < 0), absolute error at most 1.5e-7 (below float's half-ulp of
   * values near 1, 6e-8, times 2.5); evaluated in double. Java 17 has no {@code Math.erf}.
   */
  static double erf(double x) {
    double ax = Math.abs(x);
    double t = 1.0 / (1.0 + 0.3275911 * ax);
    double poly =
        t
            * (0.254829592
                + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    double e = 1.0 - poly * Math.exp(-ax * ax);
    return x < 0 ? -e : e;
  }

  private static final double INV_SQRT2 = 1.0 / Math.sqrt(2.0);

  /**
   * Exact GELU (Hendrycks and Gimpel 2016), {@code x Phi(x) = x/2 (1 + erf(x / sqrt 2))}, in place
   * over {@code n} values; erf by {@link #erf} (absolute error of the result at most {@code 0.5 |x|
   * 1.5e-7}).
   */
  static void gelu(float[] x, int n) {
    for (int i = 0; i < n; i++) {
      double v = x[i];
      x[i] = (float) (0.5 * v * (1.0 + erf(v * INV_SQRT2)));
    }
  }

  private static final double SQRT_2_OVER_PI = Math.sqrt(2.0 / Math.PI);

  /**
   * GELU's tanh form (GPT-2's {@code gelu_new}): {@code x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715
   * x^3)))}.
   */
  static void geluTanh(float[] x, int n) {
    for (int i = 0; i < n; i++) {
      double v = x[i];
      x[i] = (float) (0.5 * v * (1.0 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))));
    }
  }

  /**
   * SwiGLU's product (Shazeer 2020, arXiv:2002.05202), the Llama MLP: {@code gate[i] =
   * silu(gate[i]) * up[i]} with {@code silu(x) = x / (1 + exp(-x))}, over {@code n} values.
   */
  static void siluMul(float[] gate, float[] up, int n) {
    for (int i = 0; i < n; i++) {
      double g = gate[i];
      gate[i] = (float) (g / (1.0 + Math.exp(-g))) * up[i];
    }
  }

  /** Softmax in place over {@code x[from .. from + n)}: {@code exp(x - max) / sum}. */
  static void softmax(float[] x, int from, int n) {
    float max = Float.NEGATIVE_INFINITY;
    for (int i = from; i < from + n; i++) {
      max = Math.max(max, x[i]);
    }
    double sum = 0;
    for (int i = from; i < from + n; i++) {
      float e = (float) Math.exp(x[i] - max);
      x[i] = e;
      sum += e;
    }
    float inv = (float) (1.0 / sum);
    for (int i = from; i < from + n; i++) {
      x[i] *= inv;
    }
  }

  /** Log-softmax in place: {@code x - max - log(sum exp(x - max))}. */
  static void logSoftmax(float[] x) {
    float max = Float.NEGATIVE_INFINITY;
    for (float v : x) {
      max = Math.max(max, v);
    }
    double sum = 0;
    for (float v : x) {
      sum += Math.exp(v - max);
    }
    float shift = (float) (max + Math.log(sum));
    for (int i = 0; i < x.length; i++) {
      x[i] -= shift;
    }
  }
}
