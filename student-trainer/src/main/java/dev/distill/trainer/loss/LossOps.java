package dev.distill.trainer.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.distill.models.autograd.Scalars;

/** Small numeric helpers shared by the losses; every one works in float32. */
final class LossOps {
  /** Floor inside logarithms of probabilities: {@code p * log(max(p, TINY))} is 0 at p = 0. */
  static final float TINY = 1e-30f;

  private LossOps() {}

  /** The array as float32 (a no-op when it already is; the gradient flows through a cast). */
  static NDArray f32(NDArray a) {
    return a.getDataType() == DataType.FLOAT32 ? a : a.toType(DataType.FLOAT32, false);
  }

  /** log(sum(exp(x))) along {@code axis}, kept as a size-1 axis, shifted by the (constant) max. */
  static NDArray logSumExp(NDArray x, int axis) {
    NDArray m = x.max(new int[] {axis}, true).stopGradient();
    return x.sub(m).exp().sum(new int[] {axis}, true).log().add(m);
  }

  /** log softmax(logits / t) along the last axis. */
  static NDArray logProbs(NDArray logits, float t) {
    return Scalars.div(f32(logits), t).logSoftmax(-1);
  }

  /** {@code p * log p} with {@code 0 log 0 = 0}; p carries no gradient here. */
  static NDArray xLogX(NDArray p) {
    return p.mul(Scalars.maximum(p, TINY).log());
  }

  /** Mean of {@code perPosition} over positions where {@code mask} is 1 (0 when none are). */
  static NDArray maskedMean(NDArray perPosition, NDArray mask) {
    NDArray m = f32(mask);
    return perPosition.mul(m).sum().div(Scalars.maximum(m.sum(), 1f));
  }

  static void checkTemperature(float t) {
    if (!(t > 0f) || Float.isInfinite(t)) {
      throw new IllegalArgumentException("temperature must be finite and > 0, got " + t);
    }
  }
}
