package dev.distill.trainer.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.loss.Loss;
import java.util.Objects;

/**
 * {@link DistillationLoss} as a DJL {@link Loss}, for code that trains through DJL's {@code
 * EasyTrain} / {@code Trainer.getLoss()}: the formula and conventions are those of {@link
 * DistillationLoss} and {@link SparseKd}.
 *
 * <p>{@code predictions} = (student logits (B, T, V)); {@code labels} = (targets (B, T) int64,
 * top-k ids (B, T, k) int64, top-k probabilities (B, T, k), tail (B, T), mask (B, T)[, rationale
 * mask (B, T)]), the arrays of {@link dev.distill.trainer.data.KdBatch} in that order.
 */
public final class KdLoss extends Loss {
  private final DistillationLoss loss;

  public KdLoss(DistillationLoss loss) {
    super("kd-" + Objects.requireNonNull(loss, "loss").divergence().name());
    this.loss = loss;
  }

  public DistillationLoss objective() {
    return loss;
  }

  @Override
  public NDArray evaluate(NDList labels, NDList predictions) {
    if (labels.size() != 5 && labels.size() != 6) {
      throw new IllegalArgumentException(
          "labels must be (targets, topkIds, topkProbs, tail, mask[, rationaleMask]), got "
              + labels.size()
              + " arrays");
    }
    return loss.total(
        predictions.singletonOrThrow(),
        labels.get(0),
        labels.get(1),
        labels.get(2),
        labels.get(3),
        labels.get(4),
        labels.size() == 6 ? labels.get(5) : null);
  }
}
