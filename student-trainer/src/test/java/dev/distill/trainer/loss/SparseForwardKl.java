package dev.distill.trainer.loss;

import ai.djl.ndarray.NDArray;

/**
 * Sparse forward KL, {@code KL(teacher || student)}, over the teacher's top-k plus one tail bucket,
 * at temperature T, multiplied by {@code T^2} (Hinton, Vinyals, Dean 2015, "Distilling the
 * Knowledge in a Neural Network", arXiv:1503.02531, section 2: the soft-target gradients scale as
 * {@code 1/T^2}, so the term is multiplied by {@code T^2}).
 *
 * <p>Teacher: top-k probabilities {@code p_j} (already at T) on ids {@code i_j} and tail mass
 * {@code p_tail}, nominally {@code 1 - sum_j p_j}. The k + 1 buckets are divided by their sum
 * {@code sum_j p_j + p_tail}, a no-op for consistent labels that absorbs quantisation rounding, so
 * the teacher side is always a distribution and the divergence is never negative. Student: {@code q
 * = softmax(z / T)} over the full vocabulary; {@code q_j = q[i_j]}; {@code q_tail = 1 - sum_j q_j},
 * computed without cancellation as {@code exp(logsumexp(z/T outside the top-k) - logsumexp(z/T))}
 * and clamped at {@code >= EPS}.
 *
 * <pre>
 *   KL = sum_j p_j (log p_j - log q_j) + p_tail (log p_tail - log q_tail),   0 log 0 = 0
 *   loss = T^2 * mean over positions with mask 1 of max(KL, 0)
 * </pre>
 *
 * <p>With {@code renormalise} (off by default, docs/architecture.md) both sides are renormalised
 * over the top-k ids and there is no tail term: {@code p'_j = p_j / sum p}, {@code q'_j =
 * softmax_j(z[i_j] / T)} (the convention of trainers that keep only the teacher's top-k).
 *
 * <p>Everything is computed in float32. This is {@link SparseKd} with {@link
 * Divergence#FORWARD_KL}.
 */
public final class SparseForwardKl {
  /** Floor of the student's tail mass, so {@code log q_tail} stays finite. */
  public static final float EPS = SparseKd.EPS;

  private SparseForwardKl() {}

  /**
   * @param studentLogits (B, T, V), any float type (cast to float32)
   * @param topkIds (B, T, k) int64, the teacher's top-k ids
   * @param topkProbs (B, T, k) float32, the teacher's probabilities at {@code temperature}
   * @param tail (B, T) float32, the teacher's mass outside the top-k
   * @param mask (B, T) float32, 1 for positions that count
   * @return a scalar float32: the masked mean of the per-position KL, already times {@code T^2}
   */
  public static NDArray loss(
      NDArray studentLogits,
      NDArray topkIds,
      NDArray topkProbs,
      NDArray tail,
      NDArray mask,
      float temperature,
      boolean renormalise) {
    return SparseKd.loss(
        Divergence.FORWARD_KL,
        studentLogits,
        topkIds,
        topkProbs,
        tail,
        mask,
        temperature,
        renormalise);
  }

  /**
   * The per-position KL (B, T), not scaled by {@code T^2} and not masked: what {@link #loss}
   * averages.
   */
  public static NDArray perPosition(
      NDArray studentLogits,
      NDArray topkIds,
      NDArray topkProbs,
      NDArray tail,
      float temperature,
      boolean renormalise) {
    return SparseKd.perPosition(
        Divergence.FORWARD_KL, studentLogits, topkIds, topkProbs, tail, temperature, renormalise);
  }
}
