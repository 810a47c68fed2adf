package dev.distill.trainer.loss;

import ai.djl.ndarray.NDArray;
import dev.distill.models.autograd.Scalars;

/**
 * KD on sampled soft labels (codec v2 {@code sampled-counts}; Random-Sampling KD, Anshumann et al.,
 * ACL 2025, "Sparse Logit Sampling"): an unbiased estimate of the forward-KL objective.
 *
 * <pre>
 *   per position:  L = - sum_j w_j log q(i_j),   q = softmax(z / T),   w_j = c_j / N
 *   loss = T^2 * mean over positions with mask 1 of L
 * </pre>
 *
 * The ids {@code i_j} were drawn N times with replacement from the teacher {@code p} at T and
 * {@code c_j} counts them, so {@code E[w_j] = p(i_j)} summed per id, and {@code E[L] = -sum_i p(i)
 * log q(i) = CE(p, q) = KL(p || q) + H(p)}. {@code H(p)} does not depend on the student, so the
 * gradient of L is an unbiased estimate of the gradient of the full-vocabulary forward KL (top-k +
 * tail is not: it teaches a truncated teacher). The value is the cross-entropy, not the KL: it does
 * not go to 0 when the student equals the teacher. Padding entries (weight 0) contribute nothing.
 */
public final class SampledKd {
  private SampledKd() {}

  /**
   * @param studentLogits (B, T, V)
   * @param ids (B, T, m) int64, the sampled ids (padding allowed at weight 0)
   * @param weights (B, T, m) float32, {@code c / N}
   * @return (B, T) float32, per-position estimate of CE(p, q), not masked, not scaled
   */
  public static NDArray perPosition(
      NDArray studentLogits, NDArray ids, NDArray weights, float temperature) {
    LossOps.checkTemperature(temperature);
    LossOps.checkShapes(
        studentLogits, ids, new NDArray[] {weights}, new NDArray[0], "logits", "ids", "weights");
    NDArray logQ = LossOps.logProbs(studentLogits, temperature).gather(ids, 2);
    return LossOps.f32(weights).mul(logQ).sum(new int[] {2}).neg();
  }

  /** {@code T^2} times the masked mean of {@link #perPosition}: a scalar float32. */
  public static NDArray loss(
      NDArray studentLogits, NDArray ids, NDArray weights, NDArray mask, float temperature) {
    return Scalars.mul(
        LossOps.maskedMean(perPosition(studentLogits, ids, weights, temperature), mask),
        temperature * temperature);
  }
}
