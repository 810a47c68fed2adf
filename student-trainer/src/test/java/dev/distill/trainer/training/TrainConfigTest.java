package dev.distill.trainer.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class TrainConfigTest {
  private static TrainConfig config(int steps, int warmup) {
    return new TrainConfig(steps, 4, 1e-3f, warmup, 1e-4f, 0.01f, 1f, 0, 1, 1);
  }

  @Test
  void warmupRisesLinearlyToThePeak() {
    TrainConfig c = config(100, 10);
    assertThat((double) c.learningRateAt(0)).isCloseTo(1e-4, within(1e-9));
    assertThat((double) c.learningRateAt(4)).isCloseTo(5e-4, within(1e-9));
    assertThat((double) c.learningRateAt(9)).isCloseTo(1e-3, within(1e-9));
  }

  @Test
  void cosineDecaysToTheFloorAtTheLastStep() {
    TrainConfig c = config(110, 10);
    assertThat((double) c.learningRateAt(10)).isCloseTo(1e-3, within(1e-9));
    assertThat((double) c.learningRateAt(60)).isCloseTo(5.5e-4, within(1e-7));
    assertThat((double) c.learningRateAt(110)).isCloseTo(1e-4, within(1e-9));
  }

  @Test
  void invalidSettingsAreRefusedWithTheirName() {
    assertThatThrownBy(() -> config(0, 0)).hasMessageContaining("steps");
    assertThatThrownBy(() -> config(10, 11)).hasMessageContaining("warmupSteps");
    assertThatThrownBy(() -> new TrainConfig(10, 4, 2f, 0, 0f, 0f, 1f, 0, 1, 1))
        .hasMessageContaining("learningRate");
  }
}
