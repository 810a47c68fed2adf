package dev.distill.trainer.loss;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.distill.schemas.codec.SampledSoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.trainer.NDManagerPerTest;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class SampledKdTest extends NDManagerPerTest {
  @Test
  void isTheCountWeightedNegativeLogLikelihoodTimesTemperatureSquared() {
    // q = (0.5, 0.25, 0.25) at T = 2 (logits 2 ln q); samples: id 0 three times, id 2 once (N = 4).
    float[] z = {2 * (float) Math.log(0.5), 2 * (float) Math.log(0.25), 2 * (float) Math.log(0.25)};
    NDArray l =
        SampledKd.loss(
            manager.create(z, new Shape(1, 1, 3)),
            manager.create(new long[] {0, 2}, new Shape(1, 1, 2)),
            manager.create(new float[] {0.75f, 0.25f}, new Shape(1, 1, 2)),
            manager.ones(new Shape(1, 1)),
            2f);

    double expected = 4 * -(0.75 * Math.log(0.5) + 0.25 * Math.log(0.25));
    assertThat(l.getFloat()).isCloseTo((float) expected, within(1e-5f));
  }

  @Test
  void averagedOverDrawsItIsTheFullVocabularyCrossEntropy() {
    float[] p = {0.4f, 0.2f, 0.15f, 0.1f, 0.08f, 0.04f, 0.02f, 0.01f};
    float[] z = {0.3f, -0.2f, 0.5f, 0.1f, -1f, 0.7f, 0f, -0.4f}; // student logits, T = 1
    int v = p.length;
    double[] q = new double[v];
    double zs = 0;
    for (int i = 0; i < v; i++) {
      zs += Math.exp(z[i]);
    }
    double ce = 0;
    for (int i = 0; i < v; i++) {
      q[i] = Math.exp(z[i]) / zs;
      ce -= p[i] * Math.log(q[i]);
    }
    int draws = 3000;
    float[][] rows = new float[draws][];
    java.util.Arrays.fill(rows, p);
    SoftLabels l = SampledSoftLabelCodec.sample(rows, 12, new Random(7)).toSoftLabels();
    long[] ids = new long[draws * l.k()];
    float[] logits = new float[draws * v];
    for (int d = 0; d < draws; d++) {
      for (int j = 0; j < l.k(); j++) {
        ids[d * l.k() + j] = l.id(d, j);
      }
      System.arraycopy(z, 0, logits, d * v, v);
    }
    NDArray mean =
        SampledKd.loss(
            manager.create(logits, new Shape(1, draws, v)),
            manager.create(ids, new Shape(1, draws, l.k())),
            manager.create(l.probs(), new Shape(1, draws, l.k())),
            manager.ones(new Shape(1, draws)),
            1f);

    // Std error of the mean over 3000 draws of 12 samples is about 0.005 here.
    assertThat(mean.getFloat()).isCloseTo((float) ce, within(0.03f));
  }

  private float lossOf(float[] z, long[] ids, float[] w, float temp) {
    return SampledKd.loss(
            manager.create(z, new Shape(1, 2, 4)),
            manager.create(ids, new Shape(1, 2, 2)),
            manager.create(w, new Shape(1, 2, 2)),
            manager.ones(new Shape(1, 2)),
            temp)
        .getFloat();
  }

  @Test
  void gradientMatchesFiniteDifferences() {
    float[] z = FiniteDifferences.gaussian(new Random(2), 8, 1f);
    long[] ids = {1, 3, 0, 2};
    float[] w = {0.75f, 0.25f, 1f, 0f};
    float temp = 1.5f;
    NDArray idArray = manager.create(ids, new Shape(1, 2, 2));
    NDArray weights = manager.create(w, new Shape(1, 2, 2));
    NDArray mask = manager.ones(new Shape(1, 2));
    Function<NDArray, NDArray> kd = logits -> SampledKd.loss(logits, idArray, weights, mask, temp);
    float[] grad = FiniteDifferences.autograd(manager, z, new Shape(1, 2, 4), kd);
    FiniteDifferences.assertMatches(grad, z, x -> lossOf(x, ids, w, temp), 1e-2f, 3e-3, "");
  }

  @Test
  void refusesMismatchedShapes() {
    assertThatThrownBy(
            () ->
                SampledKd.perPosition(
                    manager.zeros(new Shape(1, 2, 4)),
                    manager.zeros(new Shape(1, 2, 2)),
                    manager.zeros(new Shape(1, 2, 3)),
                    1f))
        .hasMessageContaining("shapes disagree");
  }
}
