package dev.distill.teacher.remote;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class RetemperatureTest {
  /** softmax(z / t) */
  static double[] softmax(double[] z, double t) {
    double[] p = new double[z.length];
    double sum = 0;
    for (int i = 0; i < z.length; i++) {
      p[i] = Math.exp(z[i] / t);
      sum += p[i];
    }
    for (int i = 0; i < z.length; i++) {
      p[i] /= sum;
    }
    return p;
  }

  @Test
  void sameTemperatureChangesNothing() {
    float[] p = {0.5f, 0.2f, 0.1f};
    float tail = Retemperature.apply(p, 1f, 1f);
    assertThat(p[0]).isCloseTo(0.5f, within(1e-6f));
    assertThat(p[2]).isCloseTo(0.1f, within(1e-6f));
    assertThat(tail).isCloseTo(0.2f, within(1e-6f));
  }

  @Test
  void withoutTailItIsExactSoftmaxAtTheNewTemperature() {
    double[] z = {2.0, 1.0, 0.5, -1.0};
    double[] at1 = softmax(z, 1);
    double[] at3 = softmax(z, 3);
    float[] p = new float[4];
    for (int i = 0; i < 4; i++) {
      p[i] = (float) at1[i];
    }
    float tail = Retemperature.apply(p, 1f, 3f);
    for (int i = 0; i < 4; i++) {
      assertThat((double) p[i]).isCloseTo(at3[i], within(1e-6));
    }
    assertThat(tail).isCloseTo(0f, within(1e-6f));
  }

  @Test
  void exactWhenTailTokensEqualTheKthAndAnUpperBoundOtherwise() {
    // Vocabulary of 6: top-3 then three tail tokens with the k-th's logit.
    double[] z = {3.0, 2.0, 1.0, 1.0, 1.0, 1.0};
    double[] at1 = softmax(z, 1);
    double[] at2 = softmax(z, 2);
    float[] p = {(float) at1[0], (float) at1[1], (float) at1[2]};
    float tail = Retemperature.apply(p, 1f, 2f);
    assertThat((double) p[0]).isCloseTo(at2[0], within(1e-6));
    assertThat((double) tail).isCloseTo(at2[3] + at2[4] + at2[5], within(1e-6));
    // Tail tokens below the k-th gain more at T > T0: the tail estimate is a lower bound, so the
    // re-tempered top-k probabilities are upper bounds of the exact ones.
    double[] z2 = {3.0, 2.0, 1.0, -2.0, -3.0, -4.0};
    double[] b1 = softmax(z2, 1);
    double[] b2 = softmax(z2, 2);
    float[] q = {(float) b1[0], (float) b1[1], (float) b1[2]};
    Retemperature.apply(q, 1f, 2f);
    for (int i = 0; i < 3; i++) {
      assertThat((double) q[i]).isGreaterThanOrEqualTo(b2[i] - 1e-7).isCloseTo(b2[i], within(0.05));
    }
  }
}
