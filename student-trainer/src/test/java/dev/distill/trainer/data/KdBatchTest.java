package dev.distill.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.trainer.NDManagerPerTest;
import java.util.List;
import org.junit.jupiter.api.Test;

class KdBatchTest extends NDManagerPerTest {

  /** k = 2; position p has ids {10p, 10p + 1}, probs {0.5, 0.25 + p/100}, tail the rest. */
  private static Example example(String id, int[] tokens, float weight) {
    int n = tokens.length - 1;
    int[] ids = new int[n * 2];
    float[] probs = new float[n * 2];
    float[] tail = new float[n];
    for (int p = 0; p < n; p++) {
      ids[2 * p] = 10 * p;
      ids[2 * p + 1] = 10 * p + 1;
      probs[2 * p] = 0.5f;
      probs[2 * p + 1] = 0.25f + p / 100f;
      tail[p] = 1f - probs[2 * p] - probs[2 * p + 1];
    }
    return new Example(id, tokens, new SoftLabels(n, 2, ids, probs, tail), weight);
  }

  @Test
  void shiftsTokensIntoInputsAndTargetsAndRightPadsShorterExamples() {
    Example longer = example("a", new int[] {5, 6, 7, 8}, 1f);
    Example shorter = example("b", new int[] {1, 2}, 0.5f);
    try (KdBatch batch = KdBatch.of(manager, List.of(longer, shorter))) {
      assertThat(batch.inputs().getShape()).isEqualTo(new Shape(2, 3));
      assertThat(batch.inputs().getDataType()).isEqualTo(DataType.INT64);
      assertThat(batch.inputs().toLongArray()).containsExactly(5, 6, 7, 1, 0, 0);
      assertThat(batch.targets().getDataType()).isEqualTo(DataType.INT64);
      assertThat(batch.targets().toLongArray()).containsExactly(6, 7, 8, 2, 0, 0);
      assertThat(batch.mask().getDataType()).isEqualTo(DataType.FLOAT32);
      assertThat(batch.mask().toFloatArray()).containsExactly(1f, 1f, 1f, 1f, 0f, 0f);
      assertThat(batch.tokenCount()).isEqualTo(4);

      assertThat(batch.topkIds().getShape()).isEqualTo(new Shape(2, 3, 2));
      assertThat(batch.topkIds().getDataType()).isEqualTo(DataType.INT64);
      assertThat(batch.topkIds().toLongArray())
          .containsExactly(0, 1, 10, 11, 20, 21, 0, 1, 0, 1, 0, 1);
      assertThat(batch.topkProbs().getDataType()).isEqualTo(DataType.FLOAT32);
      assertThat(batch.topkProbs().toFloatArray())
          .containsExactly(
              new float[] {0.5f, 0.25f, 0.5f, 0.26f, 0.5f, 0.27f, 0.5f, 0.25f, 0f, 0f, 0f, 0f},
              within(1e-6f));
      assertThat(batch.tail().getShape()).isEqualTo(new Shape(2, 3));
      assertThat(batch.tail().toFloatArray())
          .containsExactly(new float[] {0.25f, 0.24f, 0.23f, 0.25f, 1f, 1f}, within(1e-6f));
      assertThat(batch.weights().toFloatArray()).containsExactly(1f, 0.5f);
    }
  }

  @Test
  void closeReleasesItsArrays() {
    KdBatch batch = KdBatch.of(manager, List.of(example("a", new int[] {1, 2, 3}, 1f)));
    batch.close();
    assertThat(batch.inputs().isReleased()).isTrue();
    assertThat(batch.topkProbs().isReleased()).isTrue();
    assertThat(batch.mask().isReleased()).isTrue();
  }

  @Test
  void refusesAnEmptyBatchAndMixedK() {
    assertThatThrownBy(() -> KdBatch.of(manager, List.of()))
        .isInstanceOf(IllegalArgumentException.class);
    Example k1 =
        new Example(
            "k1",
            new int[] {1, 2},
            new SoftLabels(1, 1, new int[] {3}, new float[] {0.9f}, new float[] {0.1f}),
            1f);
    assertThatThrownBy(() -> KdBatch.of(manager, List.of(example("a", new int[] {1, 2}, 1f), k1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("k1");
  }

  @Test
  void exampleRefusesLabelsThatDoNotFitItsTokens() {
    SoftLabels two =
        new SoftLabels(2, 1, new int[] {1, 2}, new float[] {1f, 1f}, new float[] {0f, 0f});
    assertThatThrownBy(() -> new Example("x", new int[] {1, 2}, two, 1f))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("x")
        .hasMessageContaining("2 tokens");
  }

  /** Sampled labels (k = N = 4): id 3 drawn 3 times, id 5 once, per position. */
  private static Example sampled(String id, int[] tokens) {
    int n = tokens.length - 1;
    int[] offsets = new int[n + 1];
    int[] ids = new int[2 * n];
    int[] counts = new int[2 * n];
    for (int p = 0; p < n; p++) {
      offsets[p + 1] = 2 * (p + 1);
      ids[2 * p] = 3;
      ids[2 * p + 1] = 5;
      counts[2 * p] = 3;
      counts[2 * p + 1] = 1;
    }
    return new Example(
        id,
        tokens,
        new dev.distill.schemas.codec.SampledSoftLabelCodec.Sampled(n, 4, offsets, ids, counts)
            .toSoftLabels(4),
        1f);
  }

  @Test
  void aBatchOfSampledLabelsSaysSoAndCarriesCountsOverNAsWeights() {
    try (KdBatch batch = KdBatch.of(manager, List.of(sampled("s", new int[] {1, 2, 3})))) {
      assertThat(batch.sampled()).isTrue();
      // ids 3, 5 then padding ids 0, 1 at weight 0; tail 0
      assertThat(batch.topkIds().toLongArray()).containsExactly(3, 5, 0, 1, 3, 5, 0, 1);
      assertThat(batch.topkProbs().toFloatArray())
          .containsExactly(0.75f, 0.25f, 0f, 0f, 0.75f, 0.25f, 0f, 0f);
      assertThat(batch.tail().toFloatArray()).containsExactly(0f, 0f);
    }
    try (KdBatch batch = KdBatch.of(manager, List.of(example("t", new int[] {1, 2}, 1f)))) {
      assertThat(batch.sampled()).isFalse();
    }
  }

  @Test
  void sampledAndTopKExamplesDoNotShareABatch() {
    Example s = sampled("s", new int[] {1, 2, 3});
    Example t = example("t", new int[] {1, 2}, 1f);
    assertThatThrownBy(() -> KdBatch.of(manager, List.of(s, t)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("mix sampled and top-k")
        .hasMessageContaining("s is sampled")
        .hasMessageContaining("t is top-k");
  }

  @Test
  void croppingSampledLabelsKeepsThemSampled() {
    Example s = sampled("s", new int[] {1, 2, 3, 4}).cropped(2);
    assertThat(s.labels().sampled()).isTrue();
    assertThat(s.labels().positions()).isEqualTo(2);
  }
}
