package dev.distill.trainer.loss;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.distill.trainer.NDManagerPerTest;
import dev.distill.trainer.TestLabels;
import dev.distill.trainer.data.Example;
import dev.distill.trainer.data.KdBatch;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class DistillationLossTest extends NDManagerPerTest {
  @BeforeEach
  void seed() {
    manager.getEngine().setRandomSeed(5);
  }

  private static Example example(String id, int positions) {
    int[] tokens = new int[positions + 1];
    for (int p = 0; p <= positions; p++) {
      tokens[p] = (p * 3) % 6;
    }
    return new Example(id, tokens, TestLabels.topTwo(positions, 5, 0.5f, 0.3f, 0.2f), 1f);
  }

  @Test
  void totalIsAlphaTimesKdPlusOneMinusAlphaTimesCe() {
    try (KdBatch batch = KdBatch.of(manager, List.of(example("a", 4), example("b", 2)))) {
      NDArray logits = manager.randomNormal(new Shape(2, 4, 6));
      float temp = 2f;
      float kd =
          SparseKd.loss(
                  Divergence.FORWARD_KL,
                  logits,
                  batch.topkIds(),
                  batch.topkProbs(),
                  batch.tail(),
                  batch.mask(),
                  temp,
                  false)
              .getFloat();
      float ce = HardLabelCrossEntropy.loss(logits, batch.targets(), batch.mask()).getFloat();
      assertThat(kd).isNotCloseTo(ce, within(1e-3f));

      assertThat(new DistillationLoss(0.7f, temp).total(logits, batch).getFloat())
          .isCloseTo(0.7f * kd + 0.3f * ce, within(1e-5f));
      assertThat(new DistillationLoss(0f, temp).total(logits, batch).getFloat())
          .isCloseTo(ce, within(1e-6f));
      assertThat(new DistillationLoss(1f, temp).total(logits, batch).getFloat())
          .isCloseTo(kd, within(1e-6f));
    }
  }

  @Test
  void refusesAlphaOutsideTheUnitIntervalAndNonPositiveTemperature() {
    assertThatThrownBy(() -> new DistillationLoss(1.1f, 1f, false))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("alpha");
    assertThatThrownBy(() -> new DistillationLoss(0.5f, 0f, false))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("temperature");
    assertThatThrownBy(() -> new DistillationLoss(Float.NaN, 1f, false))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void descriptionStatesTheConventions() {
    String d = new DistillationLoss(0.5f, 2f).description();
    assertThat(d)
        .contains("KL(teacher||student)")
        .contains("tail bucket")
        .contains("T=2.0")
        .contains("T^2")
        .contains("0.5 * KD")
        .doesNotContain("\n");
    assertThat(new DistillationLoss(0.5f, 2f, true).description())
        .contains("renormalised")
        .doesNotContain("plus one tail bucket");
  }

  @Test
  void rationaleTokensAreASecondTaskWithTheirOwnWeight() {
    KdBatch batch = KdBatch.of(manager, List.of(example("a", 6), example("b", 6)));
    NDArray logits = manager.randomNormal(new Shape(2, 6, 6));
    // positions 0..3 of each row are rationale, 4..5 the answer
    float[] r = new float[12];
    for (int row = 0; row < 2; row++) {
      for (int p = 0; p < 4; p++) {
        r[row * 6 + p] = 1f;
      }
    }
    NDArray rationale = manager.create(r, new Shape(2, 6));
    NDArray answer = batch.mask().sub(rationale);
    DistillationLoss loss = new DistillationLoss(0.4f, 2f, false, Divergence.jsd(0.5f), 0.7f);
    float total = loss.total(logits, batch, rationale).getFloat();

    float kd =
        SparseKd.loss(
                Divergence.jsd(0.5f),
                logits,
                batch.topkIds(),
                batch.topkProbs(),
                batch.tail(),
                batch.mask(),
                2f,
                false)
            .getFloat();
    float ceAnswer = HardLabelCrossEntropy.loss(logits, batch.targets(), answer).getFloat();
    float ceRationale = HardLabelCrossEntropy.loss(logits, batch.targets(), rationale).getFloat();
    assertThat(ceAnswer).isNotCloseTo(ceRationale, within(1e-3f)); // the split is observable
    assertThat(total).isCloseTo(0.4f * kd + 0.6f * ceAnswer + 0.7f * ceRationale, within(1e-5f));
    // without a rationale mask every position is an answer token and there is no rationale term
    float plain = loss.total(logits, batch).getFloat();
    float ceAll = HardLabelCrossEntropy.loss(logits, batch.targets(), batch.mask()).getFloat();
    assertThat(plain).isCloseTo(0.4f * kd + 0.6f * ceAll, within(1e-5f));
  }

  @Test
  void metadataNamesTheConventions() {
    DistillationLoss loss = new DistillationLoss(0.8f, 2f, false, Divergence.REVERSE_KL, 0f);
    assertThat(loss.metadata())
        .containsEntry("loss.divergence", "reverse_kl")
        .containsEntry("loss.tSquared", "true")
        .containsEntry("loss.sparseTargets", "top-k+tail-bucket");
    assertThat(loss.description()).contains("reverse_kl").contains("T^2");
  }

  @Test
  void onSampledLabelsTheKdTermIsTheSampledEstimateHandComputed() {
    // one position, V = 3, logits (0, 0, ln 2) at T = 1: q = (1/4, 1/4, 1/2); labels: id 0 drawn
    // 3 of 4 times, id 2 once. KD = -(3/4 ln 1/4 + 1/4 ln 1/2) = 1.5 ln 2 + 0.25 ln 2 = 1.75 ln 2.
    // Target token 2: CE = ln 2. alpha = 0.5: 0.5 * 1.75 ln 2 + 0.5 * ln 2 = 1.375 ln 2.
    Example e = sampledExample(4, new int[] {0, 2}, new int[] {3, 1});
    try (KdBatch batch = KdBatch.of(manager, List.of(e))) {
      // k = 4 pads with ids 1 and 3 (weight 0): V = 4, the fourth logit -40 so q is as above within
      // 1e-17
      NDArray logits4 =
          manager.create(new float[] {0f, 0f, (float) Math.log(2), -40f}, new Shape(1, 1, 4));
      double ln2 = Math.log(2);
      assertThat(new DistillationLoss(1f, 1f).total(logits4, batch).getFloat())
          .isCloseTo((float) (1.75 * ln2), within(1e-5f));
      assertThat(new DistillationLoss(0.5f, 1f).total(logits4, batch).getFloat())
          .isCloseTo((float) (1.375 * ln2), within(1e-5f));
    }
  }

  @Test
  void sampledLabelsRefuseDivergencesTheyDoNotEstimate() {
    Example e = sampledExample(2, new int[] {0}, new int[] {2});
    try (KdBatch batch = KdBatch.of(manager, List.of(e))) {
      NDArray logits = manager.zeros(new Shape(1, 1, 3));
      assertThatThrownBy(
              () ->
                  new DistillationLoss(1f, 1f, false, Divergence.REVERSE_KL, 0f)
                      .total(logits, batch))
          .hasMessageContaining("forward KL only");
      assertThatThrownBy(() -> new DistillationLoss(1f, 1f, true).total(logits, batch))
          .hasMessageContaining("renormalised");
    }
  }

  /** Tokens (1, 2) with one position of sampled labels: {@code ids} drawn {@code counts} times. */
  private static Example sampledExample(int n, int[] ids, int[] counts) {
    return new Example(
        "s",
        new int[] {1, 2},
        new dev.distill.schemas.codec.SampledSoftLabelCodec.Sampled(
                1, n, new int[] {0, ids.length}, ids, counts)
            .toSoftLabels(n),
        1f);
  }
}
