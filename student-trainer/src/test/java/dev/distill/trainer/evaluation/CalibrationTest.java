package dev.distill.trainer.evaluation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class CalibrationTest {
  @Test
  void perfectlyCalibratedPredictionsHaveZeroError() {
    Calibration.Builder b = new Calibration.Builder(10);
    for (int i = 0; i < 100; i++) {
      b.add(0.75, i % 4 != 0); // 75% confident, 75% right
    }
    Calibration c = b.build();
    assertThat(c.ece()).isCloseTo(0.0, within(1e-12));
    assertThat(c.count()[7]).isEqualTo(100);
    assertThat(c.accuracy()[7]).isCloseTo(0.75, within(1e-12));
  }

  @Test
  void overconfidenceIsTheWeightedGap() {
    Calibration.Builder b = new Calibration.Builder(10);
    for (int i = 0; i < 50; i++) {
      b.add(0.95, i % 2 == 0); // 95% confident, 50% right
      b.add(0.15, false); // 15% confident, never right
    }
    // 0.5 * |0.5 - 0.95| + 0.5 * |0 - 0.15|
    assertThat(b.build().ece()).isCloseTo(0.5 * 0.45 + 0.5 * 0.15, within(1e-9));
  }

  @Test
  void confidenceOfOneFallsInTheLastBin() {
    Calibration.Builder b = new Calibration.Builder(10);
    b.add(1.0, true);
    assertThat(b.build().count()[9]).isEqualTo(1);
  }
}
