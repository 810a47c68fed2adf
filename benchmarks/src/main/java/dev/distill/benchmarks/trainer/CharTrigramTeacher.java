package dev.distill.benchmarks.trainer;

/**
 * A full-distribution "teacher" cheap enough to run anywhere without a checkpoint: a character
 * trigram model of {@code ids[0, end)} with add-0.01 smoothing, at temperature T ({@code p ∝ (c +
 * 0.01)^(1/T)}). Rows are cached per two-character context.
 */
final class CharTrigramTeacher {
  private final int vocab;
  private final double temperature;
  private final double[][] counts;
  private final float[][] rows;

  CharTrigramTeacher(int[] ids, int end, int vocab, double temperature) {
    this.vocab = vocab;
    this.temperature = temperature;
    this.counts = new double[vocab * vocab][vocab];
    this.rows = new float[vocab * vocab][];
    for (int i = 2; i < end; i++) {
      counts[ids[i - 2] * vocab + ids[i - 1]][ids[i]]++;
    }
  }

  int vocab() {
    return vocab;
  }

  /** The distribution of the id after {@code a, b}. */
  float[] next(int a, int b) {
    int c = a * vocab + b;
    if (rows[c] == null) {
      double[] q = new double[vocab];
      double z = 0;
      for (int j = 0; j < vocab; j++) {
        q[j] = Math.pow(counts[c][j] + 0.01, 1.0 / temperature);
        z += q[j];
      }
      rows[c] = new float[vocab];
      for (int j = 0; j < vocab; j++) {
        rows[c][j] = (float) (q[j] / z);
      }
    }
    return rows[c];
  }

  /** The rows that predict {@code ids[from + 1 .. from + n]}, each from the two ids before. */
  float[][] rows(int[] ids, int from, int n) {
    float[][] p = new float[n][];
    for (int i = 0; i < n; i++) {
      p[i] = next(ids[from + i - 1], ids[from + i]);
    }
    return p;
  }
}
