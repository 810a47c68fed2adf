package dev.distill.models.labels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

class TopKTailTest {
  @Test
  void topKAndTailOfAHandComputedSoftmaxAtT() {
    try (NDManager m = NDManager.newBaseManager()) {
      // one position, V = 3, logits (0, 2 ln 2, 2 ln 3) at T = 2: p proportional to (1, 2, 3)
      float l2 = (float) (2 * Math.log(2));
      float l3 = (float) (2 * Math.log(3));
      TopKTail t = TopKTail.of(m.create(new float[] {0f, l2, l3}, new Shape(1, 1, 3)), 2f, 2);
      assertThat(t.ids()).containsExactly(2, 1);
      assertThat(t.probs()[0]).isCloseTo(3f / 6, within(1e-6f));
      assertThat(t.probs()[1]).isCloseTo(2f / 6, within(1e-6f));
      assertThat(t.tails()[0]).isCloseTo(1f / 6, within(1e-6f));
      double h = -(1 / 6.0 * Math.log(1 / 6.0) + 2 / 6.0 * Math.log(2 / 6.0) + 0.5 * Math.log(0.5));
      assertThat((double) t.entropy()[0]).isCloseTo(h, within(1e-5));
      assertThat(t.rowIds(0)).containsExactly(2, 1);
    }
  }

  @Test
  void rejectsAKLargerThanTheVocabulary() {
    try (NDManager m = NDManager.newBaseManager()) {
      assertThatThrownBy(() -> TopKTail.of(m.zeros(new Shape(1, 2, 3)), 1f, 4))
          .hasMessageContaining("k must be in [1, 3]");
    }
  }
}
