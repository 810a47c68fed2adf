package dev.distill.trainer.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class TrainConfigTest {
  private static TrainConfig config(int steps, int warmup) {
    return TrainConfig.builder(steps, 4, 1e-3f)
        .warmupSteps(warmup)
        .minLearningRate(1e-4f)
        .weightDecay(0.01f)
        .seed(1)
        .build();
  }

  @Test
  void warmupRisesLinearlyToThePeakThenCosineDecaysToTheFloorAtTheLastStep() {
    TrainConfig warmup = config(100, 10);
    TrainConfig decay = config(110, 10);
    double[][] stepAndRate = {{0, 1e-4}, {4, 5e-4}, {9, 1e-3}};
    for (double[] e : stepAndRate) {
      assertThat((double) warmup.learningRateAt((int) e[0])).isCloseTo(e[1], within(1e-9));
    }
    assertThat((double) decay.learningRateAt(10)).isCloseTo(1e-3, within(1e-9));
    assertThat((double) decay.learningRateAt(60)).isCloseTo(5.5e-4, within(1e-7));
    assertThat((double) decay.learningRateAt(110)).isCloseTo(1e-4, within(1e-9));
  }

  @Test
  void invalidSettingsAreRefusedWithTheirName() {
    assertThatThrownBy(() -> config(0, 0)).hasMessageContaining("steps");
    assertThatThrownBy(() -> config(10, 11)).hasMessageContaining("warmupSteps");
    assertThatThrownBy(() -> TrainConfig.builder(10, 4, 2f).minLearningRate(0f).seed(1).build())
        .hasMessageContaining("learningRate");
  }

  @Test
  void builderDefaultsFollowNanoGptAndToBuilderChangesOnlyWhatItSets() {
    TrainConfig c = TrainConfig.builder(100, 8, 2e-3f).build();
    assertThat(c.minLearningRate()).isEqualTo(2e-3f / 10);
    assertThat(c.gradClipNorm()).isEqualTo(1f);
    assertThat(c.accumulationSteps()).isEqualTo(1);
    assertThat(c.patience()).isZero();
    TrainConfig changed =
        c.toBuilder().accumulationSteps(4).evaluation(10, 1).earlyStopping(2, 0.01f).build();
    assertThat(changed)
        .isEqualTo(
            new TrainConfig(100, 8, 2e-3f, 0, 2e-3f / 10, 0f, 1f, 10, 1, 1337, 4, 2, 0.01f, 1))
        .isNotEqualTo(c);
    assertThat(changed.describe())
        .containsEntry("accumulationSteps", "4")
        .containsEntry("minDelta", "0.01")
        .hasSize(TrainConfig.class.getRecordComponents().length);
  }
}
