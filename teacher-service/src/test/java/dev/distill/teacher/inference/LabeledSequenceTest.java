package dev.distill.teacher.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.distill.schemas.codec.SoftLabels;
import org.junit.jupiter.api.Test;

class LabeledSequenceTest {
  @Test
  void statisticsAreTheMeansOverPositionsOfMassMarginAndNextTokenOutsideTopK() {
    // Position 0 predicts token 7 (in the top-k), position 1 predicts token 9 (not in it).
    int[] tokens = {1, 7, 9};
    SoftLabels labels =
        new SoftLabels(
            2,
            2,
            new int[] {7, 3, 4, 5},
            new float[] {0.6f, 0.3f, 0.5f, 0.1f},
            new float[] {0.1f, 0.4f});
    LabeledSequence s = LabeledSequence.of(tokens, labels, 1.25f);
    assertThat(s.meanEntropy()).isEqualTo(1.25f);
    assertThat(s.meanTopkMass()).isCloseTo((0.9f + 0.6f) / 2, within(1e-6f));
    assertThat(s.meanTop1Margin()).isCloseTo((0.3f + 0.4f) / 2, within(1e-6f));
    assertThat(s.labelOutsideTopkRate()).isEqualTo(0.5f);
    assertThat(s.labels()).isSameAs(labels);
  }

  @Test
  void withOneLabelThePositionsMarginIsItsTopProbability() {
    SoftLabels labels = new SoftLabels(1, 1, new int[] {2}, new float[] {0.8f}, new float[] {0.2f});
    assertThat(LabeledSequence.of(new int[] {0, 2}, labels, 0f).meanTop1Margin()).isEqualTo(0.8f);
  }
}
