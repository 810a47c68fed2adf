package dev.distill.trainer.loss;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.distill.trainer.NDManagerPerTest;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class DivergencesTest extends NDManagerPerTest {
  @BeforeEach
  void seed() {
    manager.getEngine().setRandomSeed(11);
  }

  private NDArray random(float scale) {
    return manager.randomNormal(new Shape(3, 4, 10)).mul(scale);
  }

  private static void assertAllClose(float[] a, float[] b, float tol) {
    assertThat(a).hasSameSizeAs(b);
    for (int i = 0; i < a.length; i++) {
      assertThat(a[i]).as("index %d", i).isCloseTo(b[i], within(tol));
    }
  }

  @Test
  void forwardKlHandComputedOnTwoTokens() {
    // P = softmax([0, ln 3]) = [0.25, 0.75], Q = [0.5, 0.5]
    // KL(P||Q) = 0.25 ln 0.5 + 0.75 ln 1.5 = -0.173287 + 0.304099 = 0.130812
    // KL(Q||P) = 0.5 ln 2 + 0.5 ln(2/3) = 0.346574 - 0.202733 = 0.143841
    NDArray p = manager.create(new float[] {0f, (float) Math.log(3)}, new Shape(1, 2));
    NDArray q = manager.create(new float[] {0f, 0f}, new Shape(1, 2));
    assertThat(Divergences.forwardKl(p, q, 1f).toFloatArray()[0])
        .isCloseTo(0.130812f, within(1e-5f));
    assertThat(Divergences.reverseKl(p, q, 1f).toFloatArray()[0])
        .isCloseTo(0.143841f, within(1e-5f));
    // at T = 2 the teacher is softmax([0, ln 3 / 2]) = [1/(1+sqrt 3), sqrt 3/(1+sqrt 3)]
    double p0 = 1 / (1 + Math.sqrt(3));
    double expected = p0 * Math.log(p0 / 0.5) + (1 - p0) * Math.log((1 - p0) / 0.5);
    assertThat((double) Divergences.forwardKl(p, q, 2f).toFloatArray()[0])
        .isCloseTo(expected, within(1e-5));
  }

  @Test
  void allAreZeroWhenStudentEqualsTeacher() {
    NDArray t = random(3);
    float[] zero = new float[12];
    assertAllClose(Divergences.forwardKl(t, t, 2f).toFloatArray(), zero, 1e-6f);
    assertAllClose(Divergences.reverseKl(t, t, 2f).toFloatArray(), zero, 1e-6f);
    assertAllClose(Divergences.jsd(t, t, 2f, 0.3f).toFloatArray(), zero, 1e-6f);
    assertThat(Divergences.forwardKl(t, t, 2f).getShape()).isEqualTo(new Shape(3, 4));
  }

  @Test
  void neverNegativeOnRandomInputs() {
    for (int trial = 0; trial < 10; trial++) {
      NDArray t = random(4);
      NDArray s = random(4);
      for (float beta : new float[] {0f, 0.1f, 0.5f, 0.9f, 1f}) {
        for (float x : Divergences.jsd(t, s, 1.5f, beta).toFloatArray()) {
          assertThat(x).isGreaterThanOrEqualTo(0f).isFinite();
        }
      }
      assertThat(Divergences.forwardKl(t, s, 1f).sum().getFloat()).isPositive();
    }
  }

  @Test
  void jsdEndpointsAreForwardAndReverseKl() {
    NDArray t = random(2);
    NDArray s = random(2);
    float[] fwd = forwardKl(t, s);
    float[] rev = reverseKl(t, s);
    assertAllClose(Divergences.jsd(t, s, 1f, 0f).toFloatArray(), fwd, 1e-6f);
    assertAllClose(Divergences.jsd(t, s, 1f, 1f).toFloatArray(), rev, 1e-6f);
    // forward and reverse really differ here, so a swapped beta would be caught
    assertThat(Math.abs(fwd[0] - rev[0])).isGreaterThan(1e-3f);
  }

  @Test
  void jsdOverBetaTendsToForwardKlAndOverOneMinusBetaToReverseKl() {
    NDArray t = random(1);
    NDArray s = random(1);
    float[] fwd = forwardKl(t, s);
    float[] rev = reverseKl(t, s);
    float small = 1e-3f;
    float[] nearZero = Divergences.jsd(t, s, 1f, small).div(small).toFloatArray();
    float[] nearOne = Divergences.jsd(t, s, 1f, 1f - small).div(small).toFloatArray();
    for (int i = 0; i < fwd.length; i++) {
      assertThat(nearZero[i]).isCloseTo(fwd[i], within(0.02f * fwd[i] + 1e-3f));
      assertThat(nearOne[i]).isCloseTo(rev[i], within(0.02f * rev[i] + 1e-3f));
    }
  }

  @Test
  void jsdIsSymmetricAtHalfAndBoundedByLnTwo() {
    NDArray t = random(5);
    NDArray s = random(5);
    float[] ts = Divergences.jsd(t, s, 1f, 0.5f).toFloatArray();
    float[] st = Divergences.jsd(s, t, 1f, 0.5f).toFloatArray();
    assertAllClose(ts, st, 1e-6f);
    for (float x : ts) {
      assertThat(x).isPositive().isLessThanOrEqualTo((float) Math.log(2) + 1e-6f);
    }
    // at beta != 0.5 it is not symmetric
    float[] a = Divergences.jsd(t, s, 1f, 0.2f).toFloatArray();
    float[] b = Divergences.jsd(s, t, 1f, 0.2f).toFloatArray();
    assertThat(Math.abs(a[0] - b[0])).isGreaterThan(1e-4f);
  }

  @Test
  void jsdHandComputedMixtureInProbabilitySpace() {
    // P = [0.25, 0.75], Q = [0.5, 0.5], beta = 0.5: M = [0.375, 0.625]
    // JSD = 0.5 (0.25 ln(0.25/0.375) + 0.75 ln(0.75/0.625))
    //     + 0.5 (0.5 ln(0.5/0.375) + 0.5 ln(0.5/0.625)) = 0.033822
    NDArray p = manager.create(new float[] {0f, (float) Math.log(3)}, new Shape(1, 2));
    NDArray q = manager.create(new float[] {0f, 0f}, new Shape(1, 2));
    double expected =
        0.5 * (0.25 * Math.log(0.25 / 0.375) + 0.75 * Math.log(0.75 / 0.625))
            + 0.5 * (0.5 * Math.log(0.5 / 0.375) + 0.5 * Math.log(0.5 / 0.625));
    assertThat(expected).isCloseTo(0.033822, within(1e-6));
    assertThat((double) Divergences.jsd(p, q, 1f, 0.5f).toFloatArray()[0])
        .isCloseTo(expected, within(1e-6));
  }

  @Test
  void refusesBetaOutsideTheUnitInterval() {
    NDArray t = random(1);
    assertThatThrownBy(() -> Divergences.jsd(t, t, 1f, 1.5f))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("beta");
  }

  private static float[] forwardKl(NDArray t, NDArray s) {
    return Divergences.forwardKl(t, s, 1f).toFloatArray();
  }

  private static float[] reverseKl(NDArray t, NDArray s) {
    return Divergences.reverseKl(t, s, 1f).toFloatArray();
  }
}
