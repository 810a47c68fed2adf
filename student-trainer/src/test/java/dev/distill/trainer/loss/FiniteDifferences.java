package dev.distill.trainer.loss;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Random;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;

/** Autograd gradients of the losses checked against central finite differences (tests only). */
final class FiniteDifferences {
  private FiniteDifferences() {}

  /** {@code d loss / d logits} by DJL's autograd at logits {@code z} of {@code shape}. */
  static float[] autograd(NDManager m, float[] z, Shape shape, Function<NDArray, NDArray> loss) {
    NDArray logits = m.create(z, shape);
    logits.setRequiresGradient(true);
    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
      gc.backward(loss.apply(logits));
      return logits.getGradient().toFloatArray();
    }
  }

  /**
   * Asserts {@code grad[i] = (f(z + h e_i) - f(z - h e_i)) / 2h} within {@code tol} for every i.
   *
   * @return the largest |numeric derivative|, so a caller can check the gradient is not all zero
   */
  static double assertMatches(
      float[] grad, float[] z, ToDoubleFunction<float[]> f, float h, double tol, String what) {
    double maxAbs = 0;
    for (int i = 0; i < z.length; i++) {
      float[] plus = z.clone();
      float[] minus = z.clone();
      plus[i] += h;
      minus[i] -= h;
      double numeric = (f.applyAsDouble(plus) - f.applyAsDouble(minus)) / (2.0 * h);
      assertThat((double) grad[i])
          .as("%s d loss / d z[%d]", what, i)
          .isCloseTo(numeric, within(tol));
      maxAbs = Math.max(maxAbs, Math.abs(numeric));
    }
    return maxAbs;
  }

  /** {@code n} logits drawn from N(0, scale^2). */
  static float[] gaussian(Random rng, int n, float scale) {
    float[] z = new float[n];
    for (int i = 0; i < n; i++) {
      z[i] = (float) rng.nextGaussian() * scale;
    }
    return z;
  }
}
