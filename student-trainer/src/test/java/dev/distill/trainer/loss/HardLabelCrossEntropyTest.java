package dev.distill.trainer.loss;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.distill.trainer.NDManagerPerTest;
import org.junit.jupiter.api.Test;

class HardLabelCrossEntropyTest extends NDManagerPerTest {

  @Test
  void uniformLogitsCostLogVocabularyNats() {
    NDArray logits = manager.zeros(new Shape(2, 3, 7));
    NDArray targets = manager.create(new long[] {0, 1, 2, 3, 4, 6}, new Shape(2, 3));
    float l = HardLabelCrossEntropy.loss(logits, targets, manager.ones(new Shape(2, 3))).getFloat();
    assertThat(l).isCloseTo((float) Math.log(7), within(1e-5f));
  }

  @Test
  void handComputedCaseAndMaskedPositionsExcluded() {
    // position 0: logits ln(1..4), target 3 -> -ln 0.4 = 0.916291
    // position 1: logits ln(1..4), target 0 -> -ln 0.1 = 2.302585 (masked out below)
    float a = 0f, b = (float) Math.log(2), c = (float) Math.log(3), d = (float) Math.log(4);
    NDArray logits = manager.create(new float[] {a, b, c, d, a, b, c, d}, new Shape(1, 2, 4));
    NDArray targets = manager.create(new long[] {3, 0}, new Shape(1, 2));

    float both =
        HardLabelCrossEntropy.loss(logits, targets, manager.ones(new Shape(1, 2))).getFloat();
    float first =
        HardLabelCrossEntropy.loss(
                logits, targets, manager.create(new float[] {1f, 0f}, new Shape(1, 2)))
            .getFloat();

    assertThat(both).isCloseTo((0.916291f + 2.302585f) / 2, within(1e-5f));
    assertThat(first).isCloseTo(0.916291f, within(1e-5f));
  }
}
