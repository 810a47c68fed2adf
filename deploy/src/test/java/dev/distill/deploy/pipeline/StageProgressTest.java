package dev.distill.deploy.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class StageProgressTest {
  @Test
  void progressLineShowsADashForValidationLossBeforeTheFirstEvaluation() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    StageProgress p = new StageProgress(new PrintStream(bytes, true, StandardCharsets.UTF_8), "t");

    p.update(11, 11, StageProgress.trainingDetail(3.95712, Double.NaN, 1234.4));

    String line = bytes.toString(StandardCharsets.UTF_8);
    assertThat(line).startsWith("[t] 11/11 100% loss 3.9571 val - 1,234 tok/s elapsed ");
    assertThat(line).doesNotContain("NaN");
  }

  @Test
  void progressLineShowsTheValidationLossOnceItExists() {
    assertThat(StageProgress.trainingDetail(3.95712, 3.81204, 9582))
        .isEqualTo("loss 3.9571 val 3.8120 9,582 tok/s");
  }

  @Test
  void aDivergedTrainingLossStillPrintsAsNaN() {
    assertThat(StageProgress.trainingDetail(Double.NaN, 2.5, 10))
        .isEqualTo("loss NaN val 2.5000 10 tok/s");
  }
}
