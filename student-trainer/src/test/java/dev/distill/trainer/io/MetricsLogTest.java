package dev.distill.trainer.io;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsLogTest {
  @TempDir Path dir;

  private List<JsonObject> read(Path file) throws Exception {
    return Files.readAllLines(file).stream()
        .map(l -> JsonParser.parseString(l).getAsJsonObject())
        .toList();
  }

  @Test
  void writesEveryNthStepEachNewValidationLossAndTheLastStepAsJsonLines() throws Exception {
    Path file = dir.resolve("run/student.metrics.jsonl");
    try (MetricsLog log = MetricsLog.append(file, 10)) {
      for (int step = 1; step <= 25; step++) {
        log.onStep(step, 25, 3.0 - step * 0.01, step >= 15 ? 2.5 : Double.NaN, 1000);
      }
    }
    List<JsonObject> lines = read(file);
    // steps 10, 15 (first val), 20, 25 (last)
    assertThat(lines).extracting(o -> o.get("step").getAsInt()).containsExactly(10, 15, 20, 25);
    assertThat(lines.get(0).get("val_loss").isJsonNull()).isTrue();
    assertThat(lines.get(1).get("val_loss").getAsDouble()).isEqualTo(2.5);
    assertThat(lines.get(3).get("train_loss").getAsDouble()).isEqualTo(2.75);
    assertThat(lines.get(3).get("total_steps").getAsInt()).isEqualTo(25);
    assertThat(lines.get(3).has("time")).isTrue();
    assertThat(lines.get(3).has("non_finite")).isFalse();
  }

  @Test
  void aNonFiniteLossIsNullAndFlaggedAndAResumedRunAppends() throws Exception {
    Path file = dir.resolve("m.jsonl");
    try (MetricsLog log = MetricsLog.append(file, 1)) {
      log.onStep(1, 3, Double.NaN, Double.NaN, 5);
    }
    try (MetricsLog log = MetricsLog.append(file, 1)) {
      log.onStep(2, 3, 1.0, Double.NaN, 5);
    }
    List<JsonObject> lines = read(file);
    assertThat(lines).hasSize(2);
    assertThat(lines.get(0).get("train_loss").isJsonNull()).isTrue();
    assertThat(lines.get(0).get("non_finite").getAsBoolean()).isTrue();
    assertThat(lines.get(1).get("step").getAsInt()).isEqualTo(2);
  }

  @Test
  void anEarlyStopIsAnEventLineWithTheBestPass() throws Exception {
    Path file = dir.resolve("e.jsonl");
    try (MetricsLog log = MetricsLog.append(file, 5)) {
      log.onStep(5, 100, 1.5, 1.75, 10);
      log.earlyStop(40, 20, 1.625);
    }
    JsonObject event = read(file).get(1);
    assertThat(event.get("event").getAsString()).isEqualTo("early_stop");
    assertThat(event.get("step").getAsInt()).isEqualTo(40);
    assertThat(event.get("best_step").getAsInt()).isEqualTo(20);
    assertThat(event.get("best_val_loss").getAsDouble()).isEqualTo(1.625);
  }
}
