package dev.distill.trainer.loss;

import ai.djl.ndarray.NDArray;
import dev.distill.models.autograd.Scalars;
import dev.distill.trainer.data.KdBatch;
import java.util.Locale;
import java.util.Objects;

/**
 * The training objective of docs/architecture.md "Loss conventions":
 *
 * <pre>
 *   total = alpha * KD + (1 - alpha) * CE(answer tokens) + rationaleWeight * CE(rationale tokens)
 * </pre>
 *
 * where KD is {@link SparseKd} with the chosen {@link Divergence} (default forward KL; teacher
 * top-k plus tail bucket, temperature T on both sides, times {@code T^2}) over every real (mask 1)
 * position, and CE is {@link HardLabelCrossEntropy} at T = 1. Without a rationale mask every real
 * position is an answer token and the rationale term is absent. With one, the hard-label loss is
 * split into two tasks as in distilling step-by-step (Hsieh et al. 2023, "Distilling Step-by-Step!
 * Outperforming Larger Language Models with Less Training Data and Smaller Model Sizes",
 * arXiv:2305.02301, eq. 3: {@code L = L_label + lambda L_rationale}): the answer tokens' CE
 * weighted by {@code 1 - alpha} and the rationale tokens' CE by {@code rationaleWeight}; each CE is
 * a mean over its own positions. With {@code alpha = 0} the KD term is not computed (the hard-label
 * baseline); with {@code alpha = 1} the answer CE is not.
 *
 * @param alpha weight of the KD term, in [0, 1]
 * @param temperature T, finite and > 0; must equal the temperature the soft labels were made at
 * @param renormalise renormalise teacher and student over the top-k instead of the tail bucket
 * @param divergence the KD divergence
 * @param rationaleWeight weight of the rationale tokens' CE, >= 0 (used only with a rationale mask)
 */
public record DistillationLoss(
    float alpha,
    float temperature,
    boolean renormalise,
    Divergence divergence,
    float rationaleWeight) {
  public DistillationLoss {
    if (!(alpha >= 0f && alpha <= 1f)) {
      throw new IllegalArgumentException("alpha must be in [0, 1], got " + alpha);
    }
    LossOps.checkTemperature(temperature);
    Objects.requireNonNull(divergence, "divergence");
    if (!(rationaleWeight >= 0f) || Float.isInfinite(rationaleWeight)) {
      throw new IllegalArgumentException(
          "rationaleWeight must be finite and >= 0, got " + rationaleWeight);
    }
  }

  /** Forward KL, no rationale term. */
  public DistillationLoss(float alpha, float temperature, boolean renormalise) {
    this(alpha, temperature, renormalise, Divergence.FORWARD_KL, 0f);
  }

  /** Forward KL with the tail bucket (no renormalisation), the default. */
  public DistillationLoss(float alpha, float temperature) {
    this(alpha, temperature, false);
  }

  /**
   * The scalar float32 loss of {@code studentLogits} (B, T, V) on {@code batch}.
   *
   * @throws IllegalArgumentException when the logits' batch or time axes differ from the batch's
   */
  public NDArray total(NDArray studentLogits, KdBatch batch) {
    return total(studentLogits, batch, null);
  }

  /**
   * As {@link #total(NDArray, KdBatch)}, with {@code rationaleMask} (B, T) float32 marking the
   * rationale tokens (1) among the real positions; null means there are none.
   */
  public NDArray total(NDArray studentLogits, KdBatch batch, NDArray rationaleMask) {
    if (batch.sampled()) {
      return totalSampled(studentLogits, batch, rationaleMask);
    }
    return total(
        studentLogits,
        batch.targets(),
        batch.topkIds(),
        batch.topkProbs(),
        batch.tail(),
        batch.mask(),
        rationaleMask);
  }

  /**
   * The objective on sampled soft labels (codec v2): the KD term is {@link SampledKd}, the unbiased
   * estimate of the forward-KL objective from the drawn ids and their weights {@code c / N}
   * (Anshumann et al., ACL 2025); the hard-label and rationale terms are as for top-k labels.
   *
   * @throws IllegalArgumentException when the divergence is not forward KL or the loss renormalises
   *     over the top-k: sampled labels estimate the forward KL only
   */
  private NDArray totalSampled(NDArray studentLogits, KdBatch batch, NDArray rationaleMask) {
    if (divergence.kind() != Divergence.Kind.FORWARD_KL || renormalise) {
      throw new IllegalArgumentException(
          "sampled soft labels (codec v2) estimate the forward KL only; the loss is "
              + divergence.name()
              + (renormalise ? " renormalised over the top-k" : "")
              + ": choose forward KL without renormalisation, or label with --labels topk");
    }
    NDArray kd =
        alpha > 0f
            ? SampledKd.loss(
                studentLogits, batch.topkIds(), batch.topkProbs(), batch.mask(), temperature)
            : null;
    return combine(studentLogits, batch.targets(), kd, batch.mask(), rationaleMask);
  }

  /** The raw-array form (shapes as in {@link KdBatch}); {@code rationaleMask} may be null. */
  public NDArray total(
      NDArray studentLogits,
      NDArray targets,
      NDArray topkIds,
      NDArray topkProbs,
      NDArray tail,
      NDArray mask,
      NDArray rationaleMask) {
    NDArray kd =
        alpha > 0f
            ? SparseKd.loss(
                divergence, studentLogits, topkIds, topkProbs, tail, mask, temperature, renormalise)
            : null;
    return combine(studentLogits, targets, kd, mask, rationaleMask);
  }

  /** {@code alpha * kd} (kd null when alpha = 0) plus the hard-label and rationale terms. */
  private NDArray combine(
      NDArray studentLogits, NDArray targets, NDArray kd, NDArray mask, NDArray rationaleMask) {
    NDArray out = null;
    if (kd != null) {
      out = alpha == 1f ? kd : Scalars.mul(kd, alpha);
    }
    NDArray nll = null;
    NDArray answerMask = mask;
    if (rationaleMask != null) {
      NDArray m = LossOps.f32(mask);
      NDArray r = LossOps.f32(rationaleMask).mul(m);
      answerMask = m.sub(r);
      if (rationaleWeight > 0f) {
        nll = HardLabelCrossEntropy.perPosition(studentLogits, targets);
        NDArray rat = Scalars.mul(LossOps.maskedMean(nll, r), rationaleWeight);
        out = out == null ? rat : out.add(rat);
      }
    }
    if (alpha < 1f) {
      if (nll == null) {
        nll = HardLabelCrossEntropy.perPosition(studentLogits, targets);
      }
      NDArray ce = LossOps.maskedMean(nll, answerMask);
      ce = alpha == 0f ? ce : Scalars.mul(ce, 1f - alpha);
      out = out == null ? ce : out.add(ce);
    }
    if (out == null) {
      // alpha = 1, a rationale mask but rationaleWeight = 0: KD only, already handled above
      throw new IllegalStateException("unreachable: no loss term");
    }
    return out;
  }

  /** One line stating the conventions used, recorded in every run's metadata. */
  public String description() {
    String buckets =
        renormalise
            ? "over the teacher's top-k, both renormalised over the top-k (no tail bucket)"
            : "over the teacher's top-k plus one tail bucket (teacher 1-sum(top-k) vs student mass"
                + " outside those ids)";
    return String.format(
        Locale.ROOT,
        "total = %s * KD + %s * CE(answer tokens) + %s * CE(rationale tokens); KD = %s"
            + " (forward KL = KL(teacher||student), reverse KL = KL(student||teacher)) %s, temperature T=%s dividing the student logits (teacher"
            + " probabilities stored at T), KD multiplied by T^2; CE in nats at T=1; each term"
            + " averaged over its unmasked positions; fp32",
        alpha,
        1f - alpha,
        rationaleWeight,
        divergence.name(),
        buckets,
        temperature);
  }

  /** The conventions as metadata entries (the keys every run records). */
  public java.util.Map<String, String> metadata() {
    java.util.Map<String, String> m = new java.util.LinkedHashMap<>();
    m.put("loss.divergence", divergence.name());
    m.put("loss.direction", "forward = KL(teacher||student), reverse = KL(student||teacher)");
    m.put("loss.alpha", Float.toString(alpha));
    m.put("loss.temperature", Float.toString(temperature));
    m.put("loss.tSquared", "true");
    m.put("loss.sparseTargets", renormalise ? "renormalised-top-k" : "top-k+tail-bucket");
    m.put("loss.rationaleWeight", Float.toString(rationaleWeight));
    m.put("loss.precision", "fp32");
    m.put("loss.description", description());
    return m;
  }
}
