package dev.distill.trainer.loss;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.distill.trainer.NDManagerPerTest;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class SparseKdTest extends NDManagerPerTest {

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

  /**
   * Exact top-k + tail of softmax(teacherLogits / temp) for (b, t, v) logits, built on the Java
   * side in double.
   */
  private static final class Sparse {
    final int b;
    final int t;
    final int v;
    final int k;
    final long[] ids;
    final float[] probs;
    final float[] tail;

    Sparse(float[] teacherLogits, int b, int t, int v, int k, float temp) {
      this.b = b;
      this.t = t;
      this.v = v;
      this.k = k;
      int rows = b * t;
      ids = new long[rows * k];
      probs = new float[rows * k];
      tail = new float[rows];
      for (int r = 0; r < rows; r++) {
        double[] p = new double[v];
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < v; i++) {
          max = Math.max(max, teacherLogits[r * v + i] / temp);
        }
        double z = 0;
        for (int i = 0; i < v; i++) {
          p[i] = Math.exp(teacherLogits[r * v + i] / temp - max);
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

    /** Labels of random teacher logits N(0, scale^2) of shape (b, t, v). */
    static Sparse random(Random rng, double scale, int b, int t, int v, int k, float temp) {
      return new Sparse(randomLogits(rng, b * t * v, scale), b, t, v, k, temp);
    }

    /** Random student logits N(0, scale^2) of this shape. */
    float[] randomStudent(Random rng, double scale) {
      return randomLogits(rng, b * t * v, scale);
    }
  }

  private static float[] randomLogits(Random rng, int n, double scale) {
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      out[i] = (float) (rng.nextGaussian() * scale);
    }
    return out;
  }

  private NDArray loss(Divergence d, float[] student, Sparse s, float temp, boolean rn) {
    float[] mask = new float[s.b * s.t];
    Arrays.fill(mask, 1f);
    return loss(d, student, s, mask, temp, rn);
  }

  private NDArray loss(
      Divergence d, float[] student, Sparse s, float[] mask, float temp, boolean rn) {
    return loss(d, logits(student, s), s, manager.create(mask, new Shape(s.b, s.t)), temp, rn);
  }

  private NDArray loss(
      Divergence d, NDArray logits, Sparse s, NDArray mask, float temp, boolean rn) {
    return SparseKd.loss(
        d,
        logits,
        manager.create(s.ids, new Shape(s.b, s.t, s.k)),
        manager.create(s.probs, new Shape(s.b, s.t, s.k)),
        manager.create(s.tail, new Shape(s.b, s.t)),
        mask,
        temp,
        rn);
  }

  private NDArray logits(float[] student, Sparse s) {
    return manager.create(student, new Shape(s.b, s.t, s.v));
  }

  private float[] perPosition(Divergence d, float[] student, Sparse s, float temp, boolean rn) {
    return SparseKd.perPosition(
            d,
            logits(student, s),
            manager.create(s.ids, new Shape(s.b, s.t, s.k)),
            manager.create(s.probs, new Shape(s.b, s.t, s.k)),
            manager.create(s.tail, new Shape(s.b, s.t)),
            temp,
            rn)
        .toFloatArray();
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
    // forward KL = 0.625 ln(1.875) + 0.375 ln(0.5625) = 0.392880 - 0.215762 = 0.177119
    assertThat(handCase(Divergence.FORWARD_KL, true)).isCloseTo(0.177119f, within(1e-5f));
  }

  @ParameterizedTest
  @MethodSource("all")
  void isZeroWhenTheStudentEqualsTheTeacher(Divergence d) {
    Random rng = new Random(1);
    float temp = 2f;
    float[] teacher = randomLogits(rng, 2 * 3 * 12, 2);
    Sparse s = new Sparse(teacher, 2, 3, 12, 4, temp);
    for (boolean rn : new boolean[] {false, true}) {
      assertThat(loss(d, teacher, s, temp, rn).getFloat())
          .as("%s renormalise=%s", d.name(), rn)
          .isCloseTo(0f, within(2e-6f));
    }
  }

  @ParameterizedTest
  @MethodSource("all")
  void isPositiveAndNeverNegativeOnRandomInputs(Divergence d) {
    Random rng = new Random(2);
    for (int trial = 0; trial < 5; trial++) {
      float temp = 0.5f + 3 * rng.nextFloat();
      Sparse s = Sparse.random(rng, 3, 2, 4, 16, 3, temp);
      float[] student = s.randomStudent(rng, 3);
      for (float x : perPosition(d, student, s, temp, false)) {
        assertThat(x).as("%s T=%s", d.name(), temp).isGreaterThan(0f).isFinite();
      }
      // over the top-k alone the two sides can coincide, so only "never negative" holds
      for (float x : perPosition(d, student, s, temp, true)) {
        assertThat(x).as("%s T=%s renormalised", d.name(), temp).isGreaterThanOrEqualTo(0f);
        assertThat(x).isFinite();
      }
    }
  }

  @Test
  void jsdEndpointsAreForwardAndReverseKlAndTheLimitsOfJsdOverBeta() {
    Random rng = new Random(3);
    Sparse s = Sparse.random(rng, 2, 1, 4, 10, 3, 1f);
    float[] student = s.randomStudent(rng, 2);
    float fkl = loss(Divergence.FORWARD_KL, student, s, 1f, false).getFloat();
    float rkl = loss(Divergence.REVERSE_KL, student, s, 1f, false).getFloat();
    assertThat(fkl).isNotCloseTo(rkl, within(1e-3f)); // the endpoints are distinguishable
    assertThat(loss(Divergence.jsd(0f), student, s, 1f, false).getFloat()).isEqualTo(fkl);
    assertThat(loss(Divergence.jsd(1f), student, s, 1f, false).getFloat()).isEqualTo(rkl);
    // JSD(beta)/beta -> forward KL as beta -> 0, JSD(beta)/(1-beta) -> reverse KL as beta -> 1
    float small = 1e-4f;
    float nearZero = loss(Divergence.jsd(small), student, s, 1f, false).getFloat();
    float nearOne = loss(Divergence.jsd(1 - small), student, s, 1f, false).getFloat();
    assertThat(nearZero / small).isCloseTo(fkl, within(0.02f * fkl));
    assertThat(nearOne / small).isCloseTo(rkl, within(0.02f * rkl));
    // skew KLs at a = 0 are the plain KLs
    assertThat(loss(Divergence.skewForwardKl(0f), student, s, 1f, false).getFloat()).isEqualTo(fkl);
    assertThat(loss(Divergence.skewReverseKl(0f), student, s, 1f, false).getFloat()).isEqualTo(rkl);
  }

  @ParameterizedTest
  @MethodSource("all")
  void isTheMaskedMeanTimesTemperatureSquared(Divergence d) {
    Random rng = new Random(4);
    float temp = 3f;
    Sparse s = Sparse.random(rng, 2, 1, 3, 8, 2, temp);
    float[] student = s.randomStudent(rng, 2);
    float[] per = perPosition(d, student, s, temp, false);
    float mean =
        (float) IntStream.range(0, per.length).mapToDouble(i -> per[i]).average().orElseThrow();
    assertThat(mean).isPositive();
    assertThat(loss(d, student, s, temp, false).getFloat())
        .isCloseTo(9f * mean, within(1e-5f * 9f * mean + 1e-7f));
  }

  @ParameterizedTest
  @MethodSource("all")
  void divergenceIsTakenAtTemperatureOnTheStudentSide(Divergence d) {
    // student logits scaled by T give the same distribution at T as the originals at 1, and the
    // teacher's labels are the same numbers, so the only difference left is the T^2 factor
    Random rng = new Random(7);
    Sparse s = Sparse.random(rng, 2, 1, 3, 8, 2, 1f);
    float[] student = s.randomStudent(rng, 2);
    float[] scaled = new float[student.length];
    for (int i = 0; i < student.length; i++) {
      scaled[i] = student[i] * 3f;
    }
    float atOne = loss(d, student, s, 1f, false).getFloat();
    float atThree = loss(d, scaled, s, 3f, false).getFloat();

    assertThat(atOne).isPositive();
    assertThat(atThree).isCloseTo(9f * atOne, within(1e-4f * 9f * atOne + 1e-6f));
  }

  @Test
  void tailBucketStaysFiniteWhenTheStudentPutsAllMassOnTheTopK() {
    // student mass outside ids {0, 1} underflows to 0: q_tail is clamped at EPS, not log(0)
    NDArray logits = manager.create(new float[] {50f, 50f, -50f, -50f}, new Shape(1, 1, 4));
    NDArray ids = manager.create(new long[] {0, 1}, new Shape(1, 1, 2));
    NDArray probs = manager.create(new float[] {0.4f, 0.4f}, new Shape(1, 1, 2));
    NDArray tail = manager.create(new float[] {0.2f}, new Shape(1, 1));
    float l =
        SparseKd.loss(
                Divergence.FORWARD_KL,
                logits,
                ids,
                probs,
                tail,
                manager.ones(new Shape(1, 1)),
                1f,
                false)
            .getFloat();
    // q = [0.5, 0.5, ~0, ~0], q_tail = EPS = 1e-8:
    // KL = 2 * 0.4 ln(0.4 / 0.5) + 0.2 ln(0.2 / 1e-8) = -0.178515 + 3.362236 = 3.183721
    double expected = 0.8 * Math.log(0.8) + 0.2 * Math.log(0.2 / SparseKd.EPS);
    assertThat((double) l).isCloseTo(expected, within(1e-3));
  }

  @Test
  void maskedPositionsDoNotCount() {
    Random rng = new Random(4);
    Divergence d = Divergence.FORWARD_KL;
    Sparse s = Sparse.random(rng, 2, 1, 2, 6, 2, 1f);
    float[] student = s.randomStudent(rng, 2);
    float both = loss(d, student, s, new float[] {1f, 1f}, 1f, false).getFloat();
    float first = loss(d, student, s, new float[] {1f, 0f}, 1f, false).getFloat();

    float[] garbage = student.clone();
    for (int i = s.v; i < 2 * s.v; i++) {
      garbage[i] = 1000f * (i % 2 == 0 ? 1 : -1);
    }
    float firstWithGarbage = loss(d, garbage, s, new float[] {1f, 0f}, 1f, false).getFloat();

    assertThat(first).isNotCloseTo(both, within(1e-4f));
    assertThat(firstWithGarbage).isCloseTo(first, within(1e-6f));
    // the mean is over masked positions only: one real position is its own KL, not half of it
    float[] per = perPosition(d, student, s, 1f, false);
    assertThat(first).isCloseTo(per[0], within(1e-6f));
    assertThat(both).isCloseTo((per[0] + per[1]) / 2, within(1e-6f));
  }

  @ParameterizedTest
  @MethodSource("all")
  void gradientMatchesFiniteDifferences(Divergence d) {
    Random rng = new Random(5);
    float temp = 2f;
    Sparse s = Sparse.random(rng, 2, 1, 2, 5, 2, temp);
    float[] student = s.randomStudent(rng, 2);
    for (boolean rn : new boolean[] {false, true}) {
      float[] grad =
          FiniteDifferences.autograd(
              manager,
              student,
              new Shape(s.b, s.t, s.v),
              logits -> loss(d, logits, s, manager.ones(new Shape(s.b, s.t)), temp, rn));
      double maxAbs =
          FiniteDifferences.assertMatches(
              grad,
              student,
              x -> loss(d, x, s, temp, rn).getFloat(),
              1e-2f,
              3e-3,
              d.name() + " renormalise=" + rn);
      assertThat(maxAbs).as(d.name()).isGreaterThan(5e-3);
    }
  }

  @Test
  void studentLogitsOfAnotherFloatTypeAreComputedInFloat32() {
    NDArray logits =
        manager
            .create(new float[] {0f, 1f, 2f, 3f}, new Shape(1, 1, 4))
            .toType(DataType.FLOAT64, false);
    NDArray l =
        SparseKd.loss(
            Divergence.FORWARD_KL,
            logits,
            manager.create(new long[] {2, 3}, new Shape(1, 1, 2)),
            manager.create(new float[] {0.3f, 0.6f}, new Shape(1, 1, 2)),
            manager.create(new float[] {0.1f}, new Shape(1, 1)),
            manager.ones(new Shape(1, 1)),
            1f,
            false);
    assertThat(l.getDataType()).isEqualTo(DataType.FLOAT32);
    assertThat(l.getShape().dimension()).isZero();
  }

  @Test
  void refusesABadTemperatureAndMismatchedShapes() {
    NDArray logits = manager.zeros(new Shape(1, 2, 4));
    NDArray ids = manager.zeros(new Shape(1, 2, 2), DataType.INT64);
    NDArray probs = manager.zeros(new Shape(1, 2, 2));
    NDArray tail = manager.ones(new Shape(1, 2));
    NDArray mask = manager.ones(new Shape(1, 2));
    Divergence d = Divergence.FORWARD_KL;
    assertThatThrownBy(() -> SparseKd.loss(d, logits, ids, probs, tail, mask, 0f, false))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("temperature");
    assertThatThrownBy(
            () ->
                SparseKd.loss(
                    d, logits, ids, probs, manager.ones(new Shape(1, 3)), mask, 1f, false))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("tail");
  }

  @Test
  void namesRoundTripAndBadNamesAreRefused() {
    for (Divergence d : all().toList()) {
      assertThat(Divergence.parse(d.name())).isEqualTo(d);
    }
    for (String bad : List.of("kl", "jsd", "jsd:1.5", "skew_forward_kl:1", "forward_kl:0.2")) {
      assertThatThrownBy(() -> Divergence.parse(bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class);
    }
  }
}
