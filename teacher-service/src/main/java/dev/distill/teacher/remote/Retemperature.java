package dev.distill.teacher.remote;

/**
 * Soft labels at temperature T from top-k probabilities reported at another temperature T0.
 *
 * <p>At temperature T, {@code p_T(i) ∝ p_T0(i)^(T0/T)}. Within the top k this is exact up to the
 * normaliser, which needs the tail: {@code Z = sum_topk p_i^a + sum_tail p_j^a} with {@code a =
 * T0/T}. The tail's individual probabilities are unknown; each is at most the k-th probability
 * {@code p_k}, so we take the tail as {@code r / p_k} tokens of probability {@code p_k}: {@code
 * sum_tail p_j^a ≈ r * p_k^(a - 1)} with {@code r = 1 - sum_topk p_i}. This is exact when a = 1
 * (nothing changes), when the tail is empty, and when the tail's tokens all have probability p_k.
 * For T > T0 (a < 1) a token below p_k gains relatively more than p_k does, so this is the smallest
 * tail weight consistent with the top k: the re-tempered top-k probabilities are upper bounds of
 * the exact ones, and the stored tail mass a lower bound. Records built this way say so in {@code
 * provenance.retemperatured}.
 */
final class Retemperature {
  private Retemperature() {}

  /**
   * @param probs top-k probabilities at T0, in any order (modified in place to probabilities at T)
   * @return the tail mass at T
   */
  public static float apply(float[] probs, float t0, float t) {
    double sum = 0;
    double min = Double.POSITIVE_INFINITY;
    for (float p : probs) {
      sum += p;
      if (p > 0) {
        min = Math.min(min, p);
      }
    }
    double r = Math.max(0, 1 - sum);
    double a = (double) t0 / t;
    double z = 0;
    double[] w = new double[probs.length];
    for (int i = 0; i < probs.length; i++) {
      w[i] = probs[i] > 0 ? Math.pow(probs[i], a) : 0;
      z += w[i];
    }
    double tail = r > 0 && Double.isFinite(min) ? r * Math.pow(min, a - 1) : 0;
    z += tail;
    if (!(z > 0)) {
      return 1f;
    }
    for (int i = 0; i < probs.length; i++) {
      probs[i] = (float) (w[i] / z);
    }
    return (float) (tail / z);
  }
}
