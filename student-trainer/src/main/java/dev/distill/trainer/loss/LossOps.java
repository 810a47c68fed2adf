package dev.distill.trainer.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
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

  /**
   * Checks the shapes of a loss' inputs: {@code logits} (B, T, V), {@code perId} (B, T, m), each of
   * {@code likePerId} (B, T, m) and each of {@code perPosition} (B, T).
   *
   * @param names the arrays' names in the order logits, perId, likePerId..., perPosition...
   * @throws IllegalArgumentException "shapes disagree: " and every array's name and shape
   */
  static void checkShapes(
      NDArray logits, NDArray perId, NDArray[] likePerId, NDArray[] perPosition, String... names) {
    Shape s = logits.getShape();
    Shape k = perId.getShape();
    boolean ok =
        s.dimension() == 3 && k.dimension() == 3 && s.get(0) == k.get(0) && s.get(1) == k.get(1);
    for (NDArray a : likePerId) {
      ok &= a.getShape().equals(k);
    }
    for (NDArray a : perPosition) {
      ok &= k.dimension() == 3 && a.getShape().equals(new Shape(k.get(0), k.get(1)));
    }
    if (!ok) {
      StringBuilder b = new StringBuilder("shapes disagree:");
      NDArray[] all = new NDArray[2 + likePerId.length + perPosition.length];
      all[0] = logits;
      all[1] = perId;
      System.arraycopy(likePerId, 0, all, 2, likePerId.length);
      System.arraycopy(perPosition, 0, all, 2 + likePerId.length, perPosition.length);
      for (int i = 0; i < all.length; i++) {
        b.append(i == 0 ? " " : ", ").append(names[i]).append(' ').append(all[i].getShape());
      }
      throw new IllegalArgumentException(b.toString());
    }
  }

  static void checkTemperature(float t) {
    if (!(t > 0f) || Float.isInfinite(t)) {
      throw new IllegalArgumentException("temperature must be finite and > 0, got " + t);
    }
  }
}
