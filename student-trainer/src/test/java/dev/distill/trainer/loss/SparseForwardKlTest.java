package dev.distill.trainer.loss;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class SparseForwardKlTest {
  private NDManager manager;

  @BeforeEach
  void open() {
    manager = NDManager.newBaseManager();
  }

  @AfterEach
  void close() {
    manager.close();
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
        for (int i = 0; i < v; i++) {
          p[i] /= z;
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
          probs[r * k + j] = (float) p[top[j]];
          sum += p[top[j]];
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

  private float loss(
      float[] student, Sparse s, int b, int t, int v, int k, float[] mask, float temp, boolean rn) {
    return SparseForwardKl.loss(
            manager.create(student, new Shape(b, t, v)),
            manager.create(s.ids, new Shape(b, t, k)),
            manager.create(s.probs, new Shape(b, t, k)),
            manager.create(s.tail, new Shape(b, t)),
            manager.create(mask, new Shape(b, t)),
            temp,
            rn)
        .getFloat();
  }

  private static float[] ones(int n) {
    float[] m = new float[n];
    Arrays.fill(m, 1f);
    return m;
  }

  @Test
  void isZeroWhenTheStudentEqualsTheTeacher() {
    Random rng = new Random(1);
    int b = 2, t = 3, v = 12, k = 4;
    float temp = 2f;
    float[] logits = randomLogits(rng, b * t * v, 3);
    Sparse s = new Sparse(logits, b * t, v, k, temp);

    assertThat(loss(logits, s, b, t, v, k, ones(b * t), temp, false)).isCloseTo(0f, within(1e-5f));
    assertThat(loss(logits, s, b, t, v, k, ones(b * t), temp, true)).isCloseTo(0f, within(1e-5f));
  }

  @Test
  void isPositiveAndNeverNegativeOnRandomInputs() {
    Random rng = new Random(2);
    int b = 2, t = 4, v = 16, k = 3;
    for (int trial = 0; trial < 20; trial++) {
      float temp = 0.5f + 3 * rng.nextFloat();
      Sparse s = new Sparse(randomLogits(rng, b * t * v, 4), b * t, v, k, temp);
      float[] student = randomLogits(rng, b * t * v, 4);
      NDArray per =
          SparseForwardKl.perPosition(
              manager.create(student, new Shape(b, t, v)),
              manager.create(s.ids, new Shape(b, t, k)),
              manager.create(s.probs, new Shape(b, t, k)),
              manager.create(s.tail, new Shape(b, t)),
              temp,
              false);
      for (float x : per.toFloatArray()) {
        assertThat(x).isGreaterThanOrEqualTo(0f).isFinite();
      }
      assertThat(loss(student, s, b, t, v, k, ones(b * t), temp, false)).isPositive();
      assertThat(loss(student, s, b, t, v, k, ones(b * t), temp, true)).isGreaterThanOrEqualTo(0f);
    }
  }

  @Test
  void isMultipliedByTemperatureSquared() {
    // logits scaled by T give the same distributions at T as the originals at 1, so the only
    // difference left is the T^2 factor
    Random rng = new Random(3);
    int b = 1, t = 3, v = 8, k = 2;
    float[] teacher = randomLogits(rng, b * t * v, 2);
    float[] student = randomLogits(rng, b * t * v, 2);
    Sparse s = new Sparse(teacher, b * t, v, k, 1f);
    float[] scaled = new float[student.length];
    for (int i = 0; i < student.length; i++) {
      scaled[i] = student[i] * 3f;
    }
    float atOne = loss(student, s, b, t, v, k, ones(b * t), 1f, false);
    float atThree = loss(scaled, s, b, t, v, k, ones(b * t), 3f, false);

    assertThat(atOne).isPositive();
    assertThat(atThree).isCloseTo(9f * atOne, within(1e-4f * 9f * atOne + 1e-6f));
  }

  @Test
  void handComputedCaseWithTheTailBucket() {
    // V = 4, student logits ln(1..4): q = [0.1, 0.2, 0.3, 0.4]. Teacher top-2 ids {1, 3} with
    // p = [0.5, 0.3] and tail 0.2. Student: q_1 = 0.2, q_3 = 0.4, q_tail = 1 - 0.6 = 0.4.
    // KL = 0.5 ln(0.5/0.2) + 0.3 ln(0.3/0.4) + 0.2 ln(0.2/0.4)
    //    = 0.458145 - 0.086305 - 0.138629 = 0.233211
    float[] z = {0f, (float) Math.log(2), (float) Math.log(3), (float) Math.log(4)};
    NDArray logits = manager.create(z, new Shape(1, 1, 4));
    NDArray ids = manager.create(new long[] {1, 3}, new Shape(1, 1, 2));
    NDArray probs = manager.create(new float[] {0.5f, 0.3f}, new Shape(1, 1, 2));
    NDArray tail = manager.create(new float[] {0.2f}, new Shape(1, 1));
    NDArray mask = manager.ones(new Shape(1, 1));

    float withTail = SparseForwardKl.loss(logits, ids, probs, tail, mask, 1f, false).getFloat();
    assertThat(withTail).isCloseTo(0.233211f, within(1e-5f));

    // renormalised over the top-2: p' = [0.625, 0.375], q' = [1/3, 2/3]
    // KL = 0.625 ln(1.875) + 0.375 ln(0.5625) = 0.392880 - 0.215762 = 0.177119
    float renormalised = SparseForwardKl.loss(logits, ids, probs, tail, mask, 1f, true).getFloat();
    assertThat(renormalised).isCloseTo(0.177119f, within(1e-5f));
  }

  @Test
  void tailBucketStaysFiniteWhenTheStudentPutsAllMassOnTheTopK() {
    // student mass outside ids {0, 1} underflows to 0: q_tail is clamped at EPS, not log(0)
    NDArray logits = manager.create(new float[] {50f, 50f, -50f, -50f}, new Shape(1, 1, 4));
    NDArray ids = manager.create(new long[] {0, 1}, new Shape(1, 1, 2));
    NDArray probs = manager.create(new float[] {0.4f, 0.4f}, new Shape(1, 1, 2));
    NDArray tail = manager.create(new float[] {0.2f}, new Shape(1, 1));
    float l =
        SparseForwardKl.loss(logits, ids, probs, tail, manager.ones(new Shape(1, 1)), 1f, false)
            .getFloat();
    // q = [0.5, 0.5, ~0, ~0], q_tail = EPS = 1e-8:
    // KL = 2 * 0.4 ln(0.4 / 0.5) + 0.2 ln(0.2 / 1e-8) = -0.178515 + 3.362236 = 3.183721
    double expected = 0.8 * Math.log(0.8) + 0.2 * Math.log(0.2 / 1e-8);
    assertThat((double) l).isCloseTo(expected, within(1e-3));
  }

  @Test
  void maskedPositionsDoNotCount() {
    Random rng = new Random(4);
    int b = 1, t = 2, v = 6, k = 2;
    float[] teacher = randomLogits(rng, t * v, 2);
    Sparse s = new Sparse(teacher, t, v, k, 1f);
    float[] student = randomLogits(rng, t * v, 2);
    float both = loss(student, s, b, t, v, k, new float[] {1f, 1f}, 1f, false);
    float first = loss(student, s, b, t, v, k, new float[] {1f, 0f}, 1f, false);

    float[] garbage = student.clone();
    for (int i = v; i < 2 * v; i++) {
      garbage[i] = 1000f * (i % 2 == 0 ? 1 : -1);
    }
    float firstWithGarbage = loss(garbage, s, b, t, v, k, new float[] {1f, 0f}, 1f, false);

    assertThat(first).isNotCloseTo(both, within(1e-4f));
    assertThat(firstWithGarbage).isCloseTo(first, within(1e-6f));
    // the mean is over masked positions only: one real position is its own KL, not half of it
    float[] per =
        SparseForwardKl.perPosition(
                manager.create(student, new Shape(b, t, v)),
                manager.create(s.ids, new Shape(b, t, k)),
                manager.create(s.probs, new Shape(b, t, k)),
                manager.create(s.tail, new Shape(b, t)),
                1f,
                false)
            .toFloatArray();
    assertThat(first).isCloseTo(per[0], within(1e-6f));
    assertThat(both).isCloseTo((per[0] + per[1]) / 2, within(1e-6f));
  }

  @Test
  void gradientMatchesFiniteDifferences() {
    Random rng = new Random(5);
    int b = 1, t = 2, v = 5, k = 2;
    float temp = 2f;
    Sparse s = new Sparse(randomLogits(rng, t * v, 2), t, v, k, temp);
    float[] student = randomLogits(rng, t * v, 2);
    float[] mask = ones(t);

    NDArray logits = manager.create(student, new Shape(b, t, v));
    logits.setRequiresGradient(true);
    float[] grad;
    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
      NDArray l =
          SparseForwardKl.loss(
              logits,
              manager.create(s.ids, new Shape(b, t, k)),
              manager.create(s.probs, new Shape(b, t, k)),
              manager.create(s.tail, new Shape(b, t)),
              manager.create(mask, new Shape(b, t)),
              temp,
              false);
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
          (loss(plus, s, b, t, v, k, mask, temp, false)
                  - loss(minus, s, b, t, v, k, mask, temp, false))
              / (2.0 * h);
      assertThat((double) grad[i]).as("d loss / d z[%d]", i).isCloseTo(numeric, within(2e-3));
      maxAbs = Math.max(maxAbs, Math.abs(numeric));
    }
    assertThat(maxAbs).isGreaterThan(1e-2); // the check compared real, non-zero gradients
  }

  @Test
  void studentLogitsOfAnotherFloatTypeAreComputedInFloat32() {
    NDArray logits =
        manager
            .create(new float[] {0f, 1f, 2f, 3f}, new Shape(1, 1, 4))
            .toType(DataType.FLOAT64, false);
    NDArray l =
        SparseForwardKl.loss(
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
    assertThatThrownBy(() -> SparseForwardKl.loss(logits, ids, probs, tail, mask, 0f, false))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("temperature");
    assertThatThrownBy(
            () ->
                SparseForwardKl.loss(
                    logits, ids, probs, manager.ones(new Shape(1, 3)), mask, 1f, false))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("tail");
  }
}
