package dev.distill.trainer.loss;

import ai.djl.ndarray.NDArray;
import dev.distill.models.autograd.Scalars;

/**
 * Full-distribution divergences between a teacher and a student for evaluation, per
 * docs/architecture.md "Loss conventions". Both logits arrays (.., V) are divided by the
 * temperature T; the result is one value per position (..), in nats, in float32, clamped at 0, and
 * NOT multiplied by {@code T^2} and not masked (callers average over their real positions).
 *
 * <ul>
 *   <li>forward KL = {@code KL(P_T || P_S) = sum P_T (log P_T - log P_S)} (teacher first);
 *   <li>reverse KL = {@code KL(P_S || P_T)};
 *   <li>generalized JSD(beta) (Agarwal et al. 2024, "On-Policy Distillation of Language Models:
 *       Learning from Self-Generated Mistakes" (GKD), arXiv:2306.13649): {@code M = beta P_T + (1 -
 *       beta) P_S} formed in probability space (log M by a two-term log-sum-exp), {@code L = beta
 *       KL(P_T || M) + (1 - beta) KL(P_S || M)}; beta = 0 and beta = 1 are defined as forward and
 *       reverse KL, as in GKD's reference code (the limits of JSD(beta)/beta and
 *       JSD(beta)/(1-beta)).
 * </ul>
 */
public final class Divergences {
  private Divergences() {}

  /** {@code KL(teacher || student)} per position. */
  public static NDArray forwardKl(NDArray teacherLogits, NDArray studentLogits, float t) {
    LossOps.checkTemperature(t);
    return kl(LossOps.logProbs(teacherLogits, t), LossOps.logProbs(studentLogits, t));
  }

  /** {@code KL(student || teacher)} per position. */
  public static NDArray reverseKl(NDArray teacherLogits, NDArray studentLogits, float t) {
    LossOps.checkTemperature(t);
    return kl(LossOps.logProbs(studentLogits, t), LossOps.logProbs(teacherLogits, t));
  }

  /** Generalized JSD(beta) per position; beta in [0, 1], 0 = forward KL, 1 = reverse KL. */
  public static NDArray jsd(NDArray teacherLogits, NDArray studentLogits, float t, float beta) {
    LossOps.checkTemperature(t);
    if (!(beta >= 0f && beta <= 1f)) {
      throw new IllegalArgumentException("beta must be in [0, 1], got " + beta);
    }
    if (beta == 0f) {
      return forwardKl(teacherLogits, studentLogits, t);
    }
    if (beta == 1f) {
      return reverseKl(teacherLogits, studentLogits, t);
    }
    NDArray logP = LossOps.logProbs(teacherLogits, t);
    NDArray logQ = LossOps.logProbs(studentLogits, t);
    NDArray a = logP.add((float) Math.log(beta));
    NDArray b = logQ.add((float) Math.log(1.0 - beta));
    NDArray hi = a.maximum(b);
    NDArray logM = hi.add(a.sub(hi).exp().add(b.sub(hi).exp()).log());
    return Scalars.maximum(
        Scalars.mul(kl(logP, logM), beta).add(Scalars.mul(kl(logQ, logM), 1f - beta)), 0f);
  }

  /** {@code sum exp(logA) (logA - logB)} over the last axis, clamped at 0. */
  private static NDArray kl(NDArray logA, NDArray logB) {
    return Scalars.maximum(logA.exp().mul(logA.sub(logB)).sum(new int[] {-1}), 0f);
  }
}
