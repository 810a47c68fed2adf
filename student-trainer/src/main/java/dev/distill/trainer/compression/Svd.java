package dev.distill.trainer.compression;

import java.util.Arrays;

/**
 * Thin singular value decomposition {@code A = U diag(s) V^T} of a dense row-major matrix (m, n), k
 * = min(m, n), s descending, by one-sided Jacobi rotations (Hestenes 1958; Demmel and Veselic 1992,
 * "Jacobi's method is more accurate than QR"): columns of the taller orientation are rotated
 * pairwise until mutually orthogonal; their norms are then the singular values. In double
 * precision; fine for the 64..2048-wide block linear layers of our students (no native LAPACK SVD
 * is exposed by DJL's NDArray API).
 *
 * @param u (m, k) row-major, orthonormal columns (a column of a zero singular value is 0)
 * @param s (k) descending, >= 0
 * @param v (n, k) row-major, orthonormal columns
 */
record Svd(int m, int n, double[] u, double[] s, double[] v) {
  private static final int MAX_SWEEPS = 60;
  private static final double TOL = 1e-13;

  /** The SVD of {@code a} (m rows, n columns, row-major). */
  public static Svd of(float[] a, int m, int n) {
    if (m < 1 || n < 1 || a.length != (long) m * n) {
      throw new IllegalArgumentException(
          "matrix (" + m + ", " + n + ") needs " + (long) m * n + " values, got " + a.length);
    }
    if (m >= n) {
      return jacobi(a, m, n, false);
    }
    // A^T = U' S V'^T  =>  A = V' S U'^T
    Svd t = jacobi(a, n, m, true);
    return new Svd(m, n, t.v, t.s, t.u);
  }

  /** Jacobi on the (rows, cols) matrix, rows >= cols, read from {@code a} transposed if asked. */
  private static Svd jacobi(float[] a, int rows, int cols, boolean transposed) {
    double[][] c = new double[cols][rows]; // columns
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        c[j][i] = transposed ? a[j * rows + i] : a[i * cols + j];
      }
    }
    double[][] w = new double[cols][cols]; // columns of V
    for (int j = 0; j < cols; j++) {
      w[j][j] = 1;
    }
    for (int sweep = 0; sweep < MAX_SWEEPS; sweep++) {
      boolean rotated = false;
      for (int p = 0; p < cols - 1; p++) {
        for (int q = p + 1; q < cols; q++) {
          double alpha = dot(c[p], c[p]);
          double beta = dot(c[q], c[q]);
          double gamma = dot(c[p], c[q]);
          if (Math.abs(gamma) <= TOL * Math.sqrt(alpha * beta) || alpha == 0 || beta == 0) {
            continue;
          }
          rotated = true;
          double zeta = (beta - alpha) / (2 * gamma);
          double t = Math.signum(zeta) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
          if (zeta == 0) {
            t = 1;
          }
          double cs = 1 / Math.sqrt(1 + t * t);
          double sn = cs * t;
          rotate(c[p], c[q], cs, sn);
          rotate(w[p], w[q], cs, sn);
        }
      }
      if (!rotated) {
        break;
      }
    }
    double[] norms = new double[cols];
    Integer[] order = new Integer[cols];
    for (int j = 0; j < cols; j++) {
      norms[j] = Math.sqrt(dot(c[j], c[j]));
      order[j] = j;
    }
    Arrays.sort(order, (x, y) -> Double.compare(norms[y], norms[x]));
    double[] u = new double[rows * cols];
    double[] s = new double[cols];
    double[] v = new double[cols * cols];
    for (int k = 0; k < cols; k++) {
      int j = order[k];
      s[k] = norms[j];
      for (int i = 0; i < rows; i++) {
        u[i * cols + k] = s[k] == 0 ? 0 : c[j][i] / s[k];
      }
      for (int i = 0; i < cols; i++) {
        v[i * cols + k] = w[j][i];
      }
    }
    return new Svd(rows, cols, u, s, v);
  }

  private static double dot(double[] x, double[] y) {
    double acc = 0;
    for (int i = 0; i < x.length; i++) {
      acc += x[i] * y[i];
    }
    return acc;
  }

  private static void rotate(double[] x, double[] y, double cs, double sn) {
    for (int i = 0; i < x.length; i++) {
      double a = x[i];
      double b = y[i];
      x[i] = cs * a - sn * b;
      y[i] = sn * a + cs * b;
    }
  }

  /** k = min(m, n). */
  public int k() {
    return s.length;
  }

  /**
   * {@code U_r diag(s_r) V_r^T}, (m, n) row-major: the best rank-r approximation (Eckart-Young).
   */
  public float[] reconstruct(int r) {
    int k = k();
    float[] out = new float[m * n];
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        double acc = 0;
        for (int l = 0; l < r; l++) {
          acc += u[i * k + l] * s[l] * v[j * k + l];
        }
        out[i * n + j] = (float) acc;
      }
    }
    return out;
  }

  /**
   * The smallest r >= 1 whose top-r singular values hold at least {@code energy} of the total
   * squared singular values (the Frobenius norm squared): {@code sum_{i<r} s_i^2 >= energy * sum_i
   * s_i^2}.
   */
  public int rankForEnergy(double energy) {
    if (!(energy > 0 && energy <= 1)) {
      throw new IllegalArgumentException("energy must be in (0, 1], got " + energy);
    }
    double total = 0;
    for (double x : s) {
      total += x * x;
    }
    double acc = 0;
    for (int r = 1; r <= s.length; r++) {
      acc += s[r - 1] * s[r - 1];
      // relative slack so energy = 1 reaches the full rank despite rounding
      if (acc >= energy * total * (1 - 1e-12)) {
        return r;
      }
    }
    return s.length;
  }
}
