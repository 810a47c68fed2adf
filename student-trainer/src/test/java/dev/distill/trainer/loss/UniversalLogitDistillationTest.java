package dev.distill.trainer.loss;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.distill.trainer.NDManagerPerTest;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class UniversalLogitDistillationTest extends NDManagerPerTest {
  private NDArray logitsOf(float[][] probs) {
    int t = probs.length;
    int v = probs[0].length;
    float[] z = new float[t * v];
    for (int i = 0; i < t; i++) {
      for (int j = 0; j < v; j++) {
        z[i * v + j] = (float) Math.log(probs[i][j]);
      }
    }
    return manager.create(z, new Shape(1, t, v));
  }

  @Test
  void sumsAbsoluteDifferencesOfTheSortedProbabilitiesWithTheSmallerVocabularyPaddedWithZeros() {
    // Student V_s = 3: (0.2, 0.5, 0.3) sorted (0.5, 0.3, 0.2, 0 pad). Teacher V_t = 4, k = 1:
    // 0.7 and a tail of 0.3 over 3 ids, sorted (0.7, 0.1, 0.1, 0.1).
    // |0.5-0.7| + |0.3-0.1| + |0.2-0.1| + |0-0.1| = 0.6.
    NDArray d =
        UniversalLogitDistillation.perPosition(
            logitsOf(new float[][] {{0.2f, 0.5f, 0.3f}}),
            manager.create(new float[] {0.7f}, new Shape(1, 1, 1)),
            manager.create(new float[] {0.3f}, new Shape(1, 1)),
            4,
            1f);

    assertThat(d.getShape()).isEqualTo(new Shape(1, 1));
    assertThat(d.getFloat(0, 0)).isCloseTo(0.6f, within(1e-5f));
  }

  @Test
  void padsTheTeacherWhenTheStudentVocabularyIsLarger() {
    // Student V_s = 4 (0.4, 0.3, 0.2, 0.1); teacher V_t = 2, k = 2 (0.9, 0.1), tail 0, pad 0 0.
    // |0.4-0.9| + |0.3-0.1| + 0.2 + 0.1 = 1.0.
    NDArray d =
        UniversalLogitDistillation.perPosition(
            logitsOf(new float[][] {{0.1f, 0.2f, 0.3f, 0.4f}}),
            manager.create(new float[] {0.1f, 0.9f}, new Shape(1, 1, 2)),
            manager.create(new float[] {0f}, new Shape(1, 1)),
            2,
            1f);

    assertThat(d.getFloat(0, 0)).isCloseTo(1.0f, within(1e-5f));
  }

  @Test
  void isZeroForEqualSortedDistributionsWhateverTheTokenOrderAndTheTemperatureIsStudentSide() {
    assertThat(permutedAt(1f)).isCloseTo(0f, within(1e-5f));
    // At T = 2 the student's softmax(z / 2) is flatter: no longer equal.
    float hot = permutedAt(2f);
    assertThat(hot).isGreaterThan(0.1f);
  }

  @Test
  void lossIsTheMaskedMean() {
    NDArray l =
        UniversalLogitDistillation.loss(
            logitsOf(new float[][] {{0.2f, 0.5f, 0.3f}, {0.5f, 0.25f, 0.25f}}),
            manager.create(new float[] {0.7f, 0.5f}, new Shape(1, 2, 1)),
            manager.create(new float[] {0.3f, 0.5f}, new Shape(1, 2)),
            manager.create(new float[] {1f, 0f}, new Shape(1, 2)),
            4,
            1f);

    assertThat(l.getFloat()).isCloseTo(0.6f, within(1e-5f));
  }

  private float uld(float[] z, float[] p, float[] tail, int t, int v, int k, int vt, float temp) {
    return UniversalLogitDistillation.loss(
            manager.create(z, new Shape(1, t, v)),
            manager.create(p, new Shape(1, t, k)),
            manager.create(tail, new Shape(1, t)),
            manager.ones(new Shape(1, t)),
            vt,
            temp)
        .getFloat();
  }

  @Test
  void gradientMatchesFiniteDifferences() {
    Random rng = new Random(11);
    int t = 2, v = 5, k = 2, vt = 7;
    float temp = 1.5f;
    float[] z = FiniteDifferences.gaussian(rng, t * v, 2f);
    float[] p = {0.5f, 0.2f, 0.6f, 0.3f};
    float[] tail = {0.3f, 0.1f};
    NDArray probs = manager.create(p, new Shape(1, t, k));
    NDArray tails = manager.create(tail, new Shape(1, t));
    NDArray mask = manager.ones(new Shape(1, t));
    Function<NDArray, NDArray> uld =
        logits -> UniversalLogitDistillation.loss(logits, probs, tails, mask, vt, temp);
    float[] grad = FiniteDifferences.autograd(manager, z, new Shape(1, t, v), uld);
    double maxAbs =
        FiniteDifferences.assertMatches(
            grad, z, x -> uld(x, p, tail, t, v, k, vt, temp), 1e-3f, 3e-3, "ULD");
    assertThat(maxAbs).isGreaterThan(1e-2);
  }

  @Test
  void refusesMismatchedShapesAndATeacherVocabularySmallerThanK() {
    assertThatThrownBy(() -> perPositionOfZeros(new Shape(1, 2, 3), 4))
        .hasMessageContaining("shapes disagree");
    assertThatThrownBy(() -> perPositionOfZeros(new Shape(1, 1, 3), 1))
        .hasMessageContaining("smaller than k");
  }

  /** ULD of zero logits of {@code logits} against a zero top-2 teacher of one position. */
  private NDArray perPositionOfZeros(Shape logits, int teacherVocab) {
    return UniversalLogitDistillation.perPosition(
        manager.zeros(logits),
        manager.zeros(new Shape(1, 1, 2)),
        manager.zeros(new Shape(1, 1)),
        teacherVocab,
        1f);
  }

  /** ULD of student logits (0.1, 0.6, 0.3) at T against the teacher (0.3, 0.6) + tail 0.1. */
  private float permutedAt(float temperature) {
    return UniversalLogitDistillation.perPosition(
            logitsOf(new float[][] {{0.1f, 0.6f, 0.3f}}),
            manager.create(new float[] {0.3f, 0.6f}, new Shape(1, 1, 2)),
            manager.create(new float[] {0.1f}, new Shape(1, 1)),
            3,
            temperature)
        .getFloat(0, 0);
  }
}
