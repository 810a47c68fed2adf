package dev.distill.trainer.loss;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class SparseKdTest {
  private NDManager manager;

  @BeforeEach
  void open() {
    manager = NDManager.newBaseManager();
  }

  @AfterEach
  void close() {
    manager.close();
  }

  static Stream<Divergence> all() {
    return Stream.of(
        Divergence.FORWARD_KL,
        Divergence.REVERSE_KL,
        Divergence.jsd(0.1f),
        Divergence.jsd(0.5f),
        Divergence.jsd(0.9f),
        Divergence.skewForwardKl(0.1f),
        Divergence.skewReverseKl(0.1f),
        Divergence.TOTAL_VARIATION);
  }

  /** Exact top-k + tail of softmax(teacherLogits / t), built on the Java side in double. */
  private static final class Sparse {
    final long[] ids;
    final float[] probs;
    final float[] tail;

    Sparse(float[] teacherLogits, int rows, int v, int k, float t) {
      ids = new long[rows * k];
      probs = new float[rows * k];
      tail = new float[rows];
      for (int r = 0; r < rows; r++) {
        double[] p = new double[v];
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < v; i++) {
          max = Math.max(max, teacherLogits[r * v + i] / t);
        }
        double z = 0;
        for (int i = 0; i < v; i++) {
          p[i] = Math.exp(teacherLogits[r * v + i] / t - max);
          z += p[i];
        }
        Integer[] order = IntStream.range(0, v).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -p[i]));
        int[] top = new int[k];
        for (int j = 0; j < k; j++) {
          top[j] = order[j];
        }
        Arrays.sort(top);
        double sum = 0;
        for (int j = 0; j < k; j++) {
          ids[r * k + j] = top[j];
          probs[r * k + j] = (float) (p[top[j]] / z);
          sum += p[top[j]] / z;
        }
        tail[r] = (float) (1.0 - sum);
      }
    }
  }

  private static float[] randomLogits(Random rng, int n, double scale) {
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      out[i] = (float) (rng.nextGaussian() * scale);
    }
    return out;
  }

  private NDArray loss(
      Divergence d, float[] student, Sparse s, int b, int t, int v, int k, float temp, boolean rn) {
    float[] mask = new float[b * t];
    Arrays.fill(mask, 1f);
    return SparseKd.loss(
        d,
        manager.create(student, new Shape(b, t, v)),
        manager.create(s.ids, new Shape(b, t, k)),
        manager.create(s.probs, new Shape(b, t, k)),
        manager.create(s.tail, new Shape(b, t)),
        manager.create(mask, new Shape(b, t)),
        temp,
        rn);
  }

  /** The hand-computed case: P = (0.5, 0.3 | tail 0.2), Q = (0.2, 0.4 | tail 0.4). */
  private float handCase(Divergence d, boolean renormalise) {
    float[] z = {0f, (float) Math.log(2), (float) Math.log(3), (float) Math.log(4)};
    return SparseKd.loss(
            d,
            manager.create(z, new Shape(1, 1, 4)),
            manager.create(new long[] {1, 3}, new Shape(1, 1, 2)),
            manager.create(new float[] {0.5f, 0.3f}, new Shape(1, 1, 2)),
            manager.create(new float[] {0.2f}, new Shape(1, 1)),
            manager.ones(new Shape(1, 1)),
            1f,
            renormalise)
        .getFloat();
  }

  @Test
  void handComputedValuesOnThreeBuckets() {
    // student logits ln(1..4): q = [0.1, 0.2, 0.3, 0.4]; teacher top-2 ids {1, 3} p = [0.5, 0.3],
    // tail 0.2. Buckets: P = (0.5, 0.3, 0.2), Q = (0.2, 0.4, 0.4).
    // forward KL = 0.5 ln 2.5 + 0.3 ln 0.75 + 0.2 ln 0.5 = 0.458145 - 0.086305 - 0.138629
    assertThat(handCase(Divergence.FORWARD_KL, false)).isCloseTo(0.233211f, within(1e-5f));
    // reverse KL = 0.2 ln 0.4 + 0.4 ln(4/3) + 0.4 ln 2 = -0.183258 + 0.115073 + 0.277259
    assertThat(handCase(Divergence.REVERSE_KL, false)).isCloseTo(0.209074f, within(1e-5f));
    // TV = (|0.5-0.2| + |0.3-0.4| + |0.2-0.4|) / 2
    assertThat(handCase(Divergence.TOTAL_VARIATION, false)).isCloseTo(0.3f, within(1e-6f));
    // JSD(0.5): M = (0.35, 0.35, 0.3); KL(P||M) = 0.178337 - 0.046245 - 0.081093 = 0.050999,
    // KL(Q||M) = -0.111923 + 0.053412 + 0.115073 = 0.056562; JSD = (0.050999 + 0.056562) / 2
    assertThat(handCase(Divergence.jsd(0.5f), false)).isCloseTo(0.053781f, within(1e-5f));
    // skew forward KL, a = 0.1: M = 0.1 P + 0.9 Q = (0.23, 0.39, 0.38);
    // KL(P||M) = 0.5 ln(0.5/0.23) + 0.3 ln(0.3/0.39) + 0.2 ln(0.2/0.38)
    //          = 0.388262 - 0.078708 - 0.128370 = 0.181184
    assertThat(handCase(Divergence.skewForwardKl(0.1f), false)).isCloseTo(0.181184f, within(1e-5f));
    // skew reverse KL, a = 0.1: M = 0.1 Q + 0.9 P = (0.47, 0.31, 0.22);
    // KL(Q||M) = 0.2 ln(0.2/0.47) + 0.4 ln(0.4/0.31) + 0.4 ln(0.4/0.22)
    //          = -0.170914 + 0.101955 + 0.239168 = 0.170209
    assertThat(handCase(Divergence.skewReverseKl(0.1f), false)).isCloseTo(0.170209f, within(1e-5f));
  }

  @Test
  void renormalisedOverTopKHasNoTailBucket() {
    // P' = (0.625, 0.375), Q' = (1/3, 2/3)
    // reverse KL = 1/3 ln((1/3)/0.625) + 2/3 ln((2/3)/0.375) = -0.209542 + 0.383582 = 0.174040
    assertThat(handCase(Divergence.REVERSE_KL, true)).isCloseTo(0.174040f, within(1e-5f));
    // TV = (|0.625 - 1/3| + |0.375 - 2/3|) / 2 = 0.291667
    assertThat(handCase(Divergence.TOTAL_VARIATION, true)).isCloseTo(0.291667f, within(1e-5f));
  }

  @ParameterizedTest
  @MethodSource("all")
  void isZeroWhenTheStudentEqualsTheTeacher(Divergence d) {
    Random rng = new Random(1);
    int b = 2, t = 3, v = 12, k = 4;
    float temp = 2f;
    float[] teacher = randomLogits(rng, b * t * v, 2);
    Sparse s = new Sparse(teacher, b * t, v, k, temp);
    for (boolean rn : new boolean[] {false, true}) {
      assertThat(loss(d, teacher, s, b, t, v, k, temp, rn).getFloat())
          .as("%s renormalise=%s", d.name(), rn)
          .isCloseTo(0f, within(2e-6f));
    }
  }

  @ParameterizedTest
  @MethodSource("all")
  void isPositiveAndNeverNegativeOnRandomInputs(Divergence d) {
    Random rng = new Random(2);
    int b = 2, t = 4, v = 16, k = 3;
    for (int trial = 0; trial < 5; trial++) {
      Sparse s = new Sparse(randomLogits(rng, b * t * v, 3), b * t, v, k, 1.5f);
      float[] student = randomLogits(rng, b * t * v, 3);
      NDArray per =
          SparseKd.perPosition(
              d,
              manager.create(student, new Shape(b, t, v)),
              manager.create(s.ids, new Shape(b, t, k)),
              manager.create(s.probs, new Shape(b, t, k)),
              manager.create(s.tail, new Shape(b, t)),
              1.5f,
              false);
      for (float x : per.toFloatArray()) {
        assertThat(x).as(d.name()).isGreaterThan(0f).isFinite();
      }
    }
  }

  @Test
  void jsdEndpointsAreForwardAndReverseKlAndTheLimitsOfJsdOverBeta() {
    Random rng = new Random(3);
    int b = 1, t = 4, v = 10, k = 3;
    Sparse s = new Sparse(randomLogits(rng, b * t * v, 2), b * t, v, k, 1f);
    float[] student = randomLogits(rng, b * t * v, 2);
    float fkl = loss(Divergence.FORWARD_KL, student, s, b, t, v, k, 1f, false).getFloat();
    float rkl = loss(Divergence.REVERSE_KL, student, s, b, t, v, k, 1f, false).getFloat();
    assertThat(fkl).isNotCloseTo(rkl, within(1e-3f)); // the endpoints are distinguishable
    assertThat(loss(Divergence.jsd(0f), student, s, b, t, v, k, 1f, false).getFloat())
        .isEqualTo(fkl);
    assertThat(loss(Divergence.jsd(1f), student, s, b, t, v, k, 1f, false).getFloat())
        .isEqualTo(rkl);
    // JSD(beta)/beta -> forward KL as beta -> 0, JSD(beta)/(1-beta) -> reverse KL as beta -> 1
    float small = 1e-4f;
    float nearZero = loss(Divergence.jsd(small), student, s, b, t, v, k, 1f, false).getFloat();
    float nearOne = loss(Divergence.jsd(1 - small), student, s, b, t, v, k, 1f, false).getFloat();
    assertThat(nearZero / small).isCloseTo(fkl, within(0.02f * fkl));
    assertThat(nearOne / small).isCloseTo(rkl, within(0.02f * rkl));
    // skew KLs at a = 0 are the plain KLs
    assertThat(loss(Divergence.skewForwardKl(0f), student, s, b, t, v, k, 1f, false).getFloat())
        .isEqualTo(fkl);
    assertThat(loss(Divergence.skewReverseKl(0f), student, s, b, t, v, k, 1f, false).getFloat())
        .isEqualTo(rkl);
  }

  @ParameterizedTest
  @MethodSource("all")
  void isTheMaskedMeanTimesTemperatureSquared(Divergence d) {
    Random rng = new Random(4);
    int b = 1, t = 3, v = 8, k = 2;
    float temp = 3f;
    Sparse s = new Sparse(randomLogits(rng, b * t * v, 2), b * t, v, k, temp);
    float[] student = randomLogits(rng, b * t * v, 2);
    float mean =
        SparseKd.perPosition(
                d,
                manager.create(student, new Shape(b, t, v)),
                manager.create(s.ids, new Shape(b, t, k)),
                manager.create(s.probs, new Shape(b, t, k)),
                manager.create(s.tail, new Shape(b, t)),
                temp,
                false)
            .mean()
            .getFloat();
    assertThat(mean).isPositive();
    assertThat(loss(d, student, s, b, t, v, k, temp, false).getFloat())
        .isCloseTo(9f * mean, within(1e-5f * 9f * mean + 1e-7f));
  }

  @ParameterizedTest
  @MethodSource("all")
  void gradientMatchesFiniteDifferences(Divergence d) {
    Random rng = new Random(5);
    int b = 1, t = 2, v = 5, k = 2;
    float temp = 2f;
    Sparse s = new Sparse(randomLogits(rng, t * v, 2), t, v, k, temp);
    float[] student = randomLogits(rng, t * v, 2);
    for (boolean rn : new boolean[] {false, true}) {
      NDArray logits = manager.create(student, new Shape(b, t, v));
      logits.setRequiresGradient(true);
      float[] grad;
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        NDArray l =
            SparseKd.loss(
                d,
                logits,
                manager.create(s.ids, new Shape(b, t, k)),
                manager.create(s.probs, new Shape(b, t, k)),
                manager.create(s.tail, new Shape(b, t)),
                manager.ones(new Shape(b, t)),
                temp,
                rn);
        gc.backward(l);
        grad = logits.getGradient().toFloatArray();
      }
      float h = 1e-2f;
      double maxAbs = 0;
      for (int i = 0; i < student.length; i++) {
        float[] plus = student.clone();
        float[] minus = student.clone();
        plus[i] += h;
        minus[i] -= h;
        double numeric =
            (loss(d, plus, s, b, t, v, k, temp, rn).getFloat()
                    - loss(d, minus, s, b, t, v, k, temp, rn).getFloat())
                / (2.0 * h);
        assertThat((double) grad[i])
            .as("%s renormalise=%s d loss / d z[%d]", d.name(), rn, i)
            .isCloseTo(numeric, within(3e-3));
        maxAbs = Math.max(maxAbs, Math.abs(numeric));
      }
      assertThat(maxAbs).as(d.name()).isGreaterThan(5e-3);
    }
  }

  @Test
  void forwardKlIsTheExistingSparseForwardKl() {
    Random rng = new Random(6);
    int b = 2, t = 3, v = 9, k = 3;
    Sparse s = new Sparse(randomLogits(rng, b * t * v, 2), b * t, v, k, 2f);
    float[] student = randomLogits(rng, b * t * v, 2);
    float viaKd = loss(Divergence.FORWARD_KL, student, s, b, t, v, k, 2f, false).getFloat();
    float viaFkl =
        SparseForwardKl.loss(
                manager.create(student, new Shape(b, t, v)),
                manager.create(s.ids, new Shape(b, t, k)),
                manager.create(s.probs, new Shape(b, t, k)),
                manager.create(s.tail, new Shape(b, t)),
                manager.ones(new Shape(b, t)),
                2f,
                false)
            .getFloat();
    assertThat(viaKd).isPositive().isEqualTo(viaFkl);
  }

  @Test
  void namesRoundTripAndBadNamesAreRefused() {
    for (Divergence d : all().toList()) {
      assertThat(Divergence.parse(d.name())).isEqualTo(d);
    }
    for (String bad : List.of("kl", "jsd", "jsd:1.5", "skew_forward_kl:1", "forward_kl:0.2")) {
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> Divergence.parse(bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class);
    }
  }
}
