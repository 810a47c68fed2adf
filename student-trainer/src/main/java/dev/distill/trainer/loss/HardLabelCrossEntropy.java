package dev.distill.trainer.loss;

import ai.djl.ndarray.NDArray;

/**
 * Cross-entropy with hard labels, in nats: {@code -log softmax(z)[y]} averaged over the positions
 * whose mask is 1 (the usual next-token loss; at T = 1, no temperature). Computed in float32.
 */
public final class HardLabelCrossEntropy {
  private HardLabelCrossEntropy() {}

  /**
   * @param logits (B, T, V), any float type (cast to float32)
   * @param targets (B, T) int64 token ids
   * @param mask (B, T) float32, 1 for positions that count
   * @return a scalar float32, the masked mean negative log-likelihood
   */
  public static NDArray loss(NDArray logits, NDArray targets, NDArray mask) {
    return LossOps.maskedMean(perPosition(logits, targets), mask);
  }

  /** The per-position negative log-likelihood (B, T), unmasked. */
  public static NDArray perPosition(NDArray logits, NDArray targets) {
    if (logits.getShape().dimension() != targets.getShape().dimension() + 1) {
      throw new IllegalArgumentException(
          "logits " + logits.getShape() + " do not match targets " + targets.getShape());
    }
    int axis = targets.getShape().dimension();
    NDArray logp = LossOps.f32(logits).logSoftmax(-1);
    return logp.gather(targets.expandDims(axis), axis).squeeze(axis).neg();
  }
}
