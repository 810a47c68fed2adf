package dev.distill.trainer.distributed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.distill.training.spi.WorkerTask;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DataParallelOptionsTest {
  private static Map<String, String> options() {
    Map<String, String> m = new HashMap<>();
    m.put("curated", "c");
    m.put("tokenizer", "t.json");
    m.put("output", "out");
    m.put("model.block-size", "16");
    m.put("student.layers", "1");
    m.put("student.heads", "2");
    m.put("student.embd", "32");
    m.put("student.steps", "10");
    m.put("student.batch", "4");
    m.put("student.lr", "0.002");
    m.put("student.alpha", "0.5");
    m.put("run.seed", "1");
    m.put("train.spark.sync", "allreduce");
    m.put("train.spark.average-every", "8");
    m.put("train.divergence", "forward_kl");
    return m;
  }

  @Test
  void noAccumulationAndNoEarlyStoppingAreAccepted() {
    Map<String, String> m = options();
    m.put("train.accumulation-steps", "1");
    m.put("train.patience", "0");
    assertThat(DataParallelStudentTrainer.Options.of(WorkerTask.Job.fromOptions(m)).steps())
        .isEqualTo(10);
  }

  @Test
  void gradientAccumulationIsAcceptedAndANonPositiveCountIsRefusedNamingTheKey() {
    Map<String, String> m = options();
    m.put("train.accumulation-steps", "2");
    assertThat(DataParallelStudentTrainer.Options.of(WorkerTask.Job.fromOptions(m)).accumulation())
        .isEqualTo(2);
    m.put("train.accumulation-steps", "0");
    assertThatThrownBy(() -> DataParallelStudentTrainer.Options.of(WorkerTask.Job.fromOptions(m)))
        .hasMessage("train.accumulation-steps must be >= 1, got 0");
  }

  @Test
  void earlyStoppingIsRefused() {
    Map<String, String> m = options();
    m.put("train.patience", "3");
    assertThatThrownBy(() -> DataParallelStudentTrainer.Options.of(WorkerTask.Job.fromOptions(m)))
        .hasMessageContaining("train.patience = 3");
  }
}
