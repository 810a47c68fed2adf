package dev.distill.trainer.loss;

import ai.djl.ndarray.NDArray;
import dev.distill.trainer.data.KdBatch;
import java.util.Locale;

/**
 * The training objective of DESIGN.md "Loss conventions": {@code total = alpha * KD + (1 - alpha) *
 * CE(hard labels)}, where KD is {@link SparseForwardKl} (forward KL, teacher top-k plus tail
 * bucket, temperature T on both sides, times {@code T^2}) and CE is {@link HardLabelCrossEntropy}
 * on the next tokens at T = 1; both are means over the batch's real (mask 1) positions. With {@code
 * alpha = 0} the KD term is not computed (the hard-label baseline); with {@code alpha = 1} the CE
 * term is not.
 *
 * @param alpha weight of the KD term, in [0, 1]
 * @param temperature T, finite and > 0; must equal the temperature the soft labels were made at
 * @param renormalise renormalise teacher and student over the top-k instead of the tail bucket
 */
public record DistillationLoss(float alpha, float temperature, boolean renormalise) {
  public DistillationLoss {
    if (!(alpha >= 0f && alpha <= 1f)) {
      throw new IllegalArgumentException("alpha must be in [0, 1], got " + alpha);
    }
    LossOps.checkTemperature(temperature);
  }

  /** Tail bucket (no renormalisation), the default. */
  public DistillationLoss(float alpha, float temperature) {
    this(alpha, temperature, false);
  }

  /**
   * The scalar float32 loss of {@code studentLogits} (B, T, V) on {@code batch}.
   *
   * @throws IllegalArgumentException when the logits' batch or time axes differ from the batch's
   */
  public NDArray total(NDArray studentLogits, KdBatch batch) {
    NDArray kd = null;
    NDArray ce = null;
    if (alpha > 0f) {
      kd =
          SparseForwardKl.loss(
              studentLogits,
              batch.topkIds(),
              batch.topkProbs(),
              batch.tail(),
              batch.mask(),
              temperature,
              renormalise);
    }
    if (alpha < 1f) {
      ce = HardLabelCrossEntropy.loss(studentLogits, batch.targets(), batch.mask());
    }
    if (kd == null) {
      return ce;
    }
    if (ce == null) {
      return kd;
    }
    return kd.mul(alpha).add(ce.mul(1f - alpha));
  }

  /** One line stating the conventions used, recorded in every run's metadata. */
  public String description() {
    String kd =
        renormalise
            ? "sparse forward KL(teacher||student) over the teacher's top-k, both renormalised over"
                + " the top-k (no tail bucket)"
            : "sparse forward KL(teacher||student) over the teacher's top-k plus one tail bucket"
                + " (teacher 1-sum(top-k) vs student mass outside those ids)";
    return String.format(
        Locale.ROOT,
        "total = %s * KD + %s * CE(hard labels); KD = %s, temperature T=%s dividing the student"
            + " logits (teacher probabilities stored at T), KD multiplied by T^2; CE in nats at"
            + " T=1; both averaged over unmasked positions; fp32",
        alpha,
        1f - alpha,
        kd,
        temperature);
  }
}
