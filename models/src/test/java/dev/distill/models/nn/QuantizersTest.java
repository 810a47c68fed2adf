package dev.distill.models.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class QuantizersTest {
  private NDManager manager;

  @BeforeEach
  void open() {
    manager = NDManager.newBaseManager();
    manager.getEngine().setRandomSeed(3);
  }

  @AfterEach
  void close() {
    manager.close();
  }

  @Test
  void ternaryWeightsAreMinusZeroPlusTimesTheAbsmean() {
    NDArray w = manager.randomNormal(new Shape(16, 24)).mul(0.02f);
    float gamma = w.abs().mean().getFloat() + Quantizers.EPS;
    float[] q = Quantizers.ternary(w).toFloatArray();
    float[] x = w.toFloatArray();
    Set<Float> levels = new HashSet<>();
    for (int i = 0; i < q.length; i++) {
      levels.add(q[i]);
      // round(x / gamma) clipped to [-1, 1]
      float expected = Math.max(-1, Math.min(1, Math.round(x[i] / gamma))) * gamma;
      assertThat(q[i]).isCloseTo(expected, within(1e-7f));
    }
    assertThat(levels).hasSize(3); // -gamma, 0, +gamma all occur on Gaussian weights
  }

  @Test
  void ternaryHandComputedCase() {
    // W = [0.3, -0.05, -0.9, 0.15]: gamma = 1.4 / 4 = 0.35; W / gamma = [0.857, -0.143, -2.571,
    // 0.429] -> round, clip: [1, 0, -1, 0] -> [0.35, 0, -0.35, 0]
    NDArray w = manager.create(new float[] {0.3f, -0.05f, -0.9f, 0.15f});
    assertThat(Quantizers.ternary(w).toFloatArray())
        .containsExactly(new float[] {0.35001f, 0f, -0.35001f, 0f}, within(1e-6f));
  }

  @Test
  void straightThroughEstimatorPassesTheGradientUnchanged() {
    NDArray w = manager.randomNormal(new Shape(4, 5));
    w.setRequiresGradient(true);
    NDArray g = manager.randomNormal(new Shape(4, 5));
    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
      gc.backward(Quantizers.ternary(w).mul(g).sum());
    }
    assertThat(w.getGradient().toFloatArray()).containsExactly(g.toFloatArray(), within(1e-6f));
  }

  @Test
  void eightBitActivationsHave255LevelsPerTokenAndSmallError() {
    NDArray x = manager.randomNormal(new Shape(3, 2, 64));
    NDArray q = Quantizers.activations8(x);
    float[] xs = x.toFloatArray();
    float[] qs = q.toFloatArray();
    for (int row = 0; row < 6; row++) {
      float max = 0;
      for (int i = 0; i < 64; i++) {
        max = Math.max(max, Math.abs(xs[row * 64 + i]));
      }
      float step = max / 127f;
      for (int i = 0; i < 64; i++) {
        float err = Math.abs(qs[row * 64 + i] - xs[row * 64 + i]);
        assertThat(err).isLessThanOrEqualTo(step / 2 + 1e-6f);
        float level = qs[row * 64 + i] / step;
        assertThat(level).isCloseTo(Math.round(level), within(1e-3f)); // on the 8-bit grid
      }
    }
  }

  @Test
  void selfCompressionMatchesThePaperFormula() {
    // b = 3: integers in [-4, 3]; e = -2: step 0.25. w / 0.25 = [1.2, -7, 2.6, 0.4]
    // -> clamp [1.2, -4, 2.6, 0.4] -> round [1, -4, 3, 0] -> [0.25, -1, 0.75, 0]
    NDArray w = manager.create(new float[] {0.3f, -1.75f, 0.65f, 0.1f}, new Shape(1, 4));
    NDArray q =
        Quantizers.selfCompress(
            w,
            manager.create(new float[] {3f}, new Shape(1, 1)),
            manager.create(new float[] {-2f}, new Shape(1, 1)));
    assertThat(q.toFloatArray())
        .containsExactly(new float[] {0.25f, -1f, 0.75f, 0f}, within(1e-6f));
  }

  @Test
  void zeroBitsZeroTheChannelAndBitsAndExponentGetGradients() {
    NDArray w = manager.randomNormal(new Shape(2, 8)).mul(0.5f);
    NDArray bits = manager.create(new float[] {0f, 2f}, new Shape(2, 1));
    NDArray exp = manager.create(new float[] {-3f, -3f}, new Shape(2, 1));
    float[] q = Quantizers.selfCompress(w, bits, exp).toFloatArray();
    for (int i = 0; i < 8; i++) {
      assertThat(q[i]).as("channel 0 at 0 bits").isZero();
    }
    bits.setRequiresGradient(true);
    exp.setRequiresGradient(true);
    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
      NDArray target = w.mul(1.1f);
      gc.backward(Quantizers.selfCompress(w, bits, exp).sub(target).square().sum());
    }
    // with 2 bits (integers -2..1 at step 1/8) most of channel 1 is clamped: more bits would help
    assertThat(bits.getGradient().toFloatArray()[1]).isNegative();
    assertThat(exp.getGradient().toFloatArray()[1]).isNotZero();
  }
}
