package dev.distill.trainer.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.distill.models.autograd.Scalars;

/**
 * Any {@link Divergence} between the teacher's sparse soft labels and the student, at temperature
 * T, per docs/architecture.md "Loss conventions".
 *
 * <p>Both sides are reduced to the same k + 1 buckets, the teacher's top-k ids plus one tail
 * bucket, and the divergence is taken between those two distributions:
 *
 * <pre>
 *   teacher  P = (p_1 .. p_k, p_tail) / (sum_j p_j + p_tail)      (stored at T; the division
 *                                                                  absorbs quantisation rounding)
 *   student  Q = (q[i_1] .. q[i_k], 1 - sum_j q[i_j]),   q = softmax(z / T) over the vocabulary
 *            log q_tail = logsumexp(z/T outside the top-k) - logsumexp(z/T), floored at log 1e-8
 *   loss     = T^2 * mean over positions with mask 1 of max(D(P, Q), 0)
 * </pre>
 *
 * <p>For forward KL this is exactly the full-vocabulary KL when the teacher's tail is spread like
 * the student's; for every divergence here it is the divergence of the coarsened distributions,
 * hence a lower bound of the full-vocabulary one (data-processing inequality). With {@code
 * renormalise} (an option, off by default) there is no tail bucket: {@code P = p / sum p} and
 * {@code Q = softmax(z[i_j] / T)} over the k ids.
 *
 * <p>The {@code T^2} factor (Hinton et al. 2015, arXiv:1503.02531, section 2) keeps the soft-target
 * gradients on the scale of the hard-label ones; it is applied to every divergence.
 *
 * <p>Everything is computed in float32.
 */
public final class SparseKd {
  /** Floor of the student's tail mass, so {@code log q_tail} stays finite. */
  public static final float EPS = 1e-8f;

  private static final float MASKED_LOGIT = -1e9f;

  private SparseKd() {}

  /**
   * @param studentLogits (B, T, V), any float type (cast to float32)
   * @param topkIds (B, T, k) int64, the teacher's top-k ids
   * @param topkProbs (B, T, k) float32, the teacher's probabilities at {@code temperature}
   * @param tail (B, T) float32, the teacher's mass outside the top-k
   * @param mask (B, T) float32, 1 for positions that count
   * @return a scalar float32: the masked mean of the per-position divergence, times {@code T^2}
   */
  public static NDArray loss(
      Divergence divergence,
      NDArray studentLogits,
      NDArray topkIds,
      NDArray topkProbs,
      NDArray tail,
      NDArray mask,
      float temperature,
      boolean renormalise) {
    NDArray perPosition =
        perPosition(divergence, studentLogits, topkIds, topkProbs, tail, temperature, renormalise);
    return Scalars.mul(LossOps.maskedMean(perPosition, mask), temperature * temperature);
  }

  /** The per-position divergence (B, T), not scaled by {@code T^2} and not masked. */
  public static NDArray perPosition(
      Divergence divergence,
      NDArray studentLogits,
      NDArray topkIds,
      NDArray topkProbs,
      NDArray tail,
      float temperature,
      boolean renormalise) {
    LossOps.checkTemperature(temperature);
    LossOps.checkShapes(
        studentLogits,
        topkIds,
        new NDArray[] {topkProbs},
        new NDArray[] {tail},
        "logits",
        "topkIds",
        "topkProbs",
        "tail");
    Shape k = topkIds.getShape();
    NDArray z = Scalars.div(LossOps.f32(studentLogits), temperature);
    NDArray p = Scalars.maximum(LossOps.f32(topkProbs), 0f);
    NDArray zk = z.gather(topkIds, 2); // (B, T, k)

    NDArray teacher;
    NDArray logQ;
    if (renormalise) {
      teacher = p.div(Scalars.maximum(p.sum(new int[] {2}, true), LossOps.TINY));
      logQ = zk.logSoftmax(2);
    } else {
      NDArray pt = Scalars.maximum(LossOps.f32(tail), 0f).expandDims(2); // (B, T, 1)
      teacher = p.concat(pt, 2);
      teacher = teacher.div(Scalars.maximum(teacher.sum(new int[] {2}, true), LossOps.TINY));
      NDArray lse = LossOps.logSumExp(z, 2); // (B, T, 1)
      // the student's mass outside the top-k: logsumexp over the logits with the top-k masked out
      NDManager m = z.getManager();
      NDArray inTopk = m.zeros(z.getShape()).scatter(topkIds, m.ones(k), 2);
      NDArray outside = z.add(Scalars.mul(inTopk, MASKED_LOGIT));
      NDArray logQTail =
          Scalars.maximum(LossOps.logSumExp(outside, 2).sub(lse), (float) Math.log(EPS));
      logQ = zk.sub(lse).concat(logQTail, 2);
    }
    NDArray logP = Scalars.maximum(teacher, LossOps.TINY).log();
    return divergence.between(teacher, logP, logQ.exp(), logQ);
  }
}
