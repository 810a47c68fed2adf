package dev.distill.training.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WorkerTaskTest {
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
    m.put("train.spark.sync", "diloco");
    m.put("train.spark.average-every", "8");
    m.put("train.divergence", "forward_kl");
    m.put("teacher.layers", "4"); // not the trainer's: not read
    return m;
  }

  private static WorkerTask.Io io() {
    return new WorkerTask.Io("c", "t.json", "out", null, false, 0);
  }

  private static WorkerTask.Synchronisation sync() {
    return new WorkerTask.Synchronisation(
        WorkerTask.Sync.ALLREDUCE, 8, 50, 0.7f, 0.9f, WorkerTask.Transport.SOCKET);
  }

  private static WorkerTask.Hyperparameters hyper(int checkpointEvery) {
    return new WorkerTask.Hyperparameters(
        16, 1, 2, 32, 10, 4, 0.002f, 0.5f, 1L, "forward_kl", checkpointEvery, 1, 5);
  }

  @Test
  void theKeyValueFormIsTypedWithThePaperDefaultsForDiLoCo() {
    WorkerTask.Job job = WorkerTask.Job.fromOptions(options());
    assertThat(job.io()).isEqualTo(io());
    assertThat(job.sync())
        .isEqualTo(
            new WorkerTask.Synchronisation(
                WorkerTask.Sync.DILOCO, 8, 50, 0.7f, 0.9f, WorkerTask.Transport.SOCKET));
    assertThat(job.hyper()).isEqualTo(hyper(0));
  }

  @Test
  void badValuesFailNamingTheField() {
    Map<String, String> m = options();
    m.put("train.spark.transport", "mpi");
    assertThatThrownBy(() -> WorkerTask.Job.fromOptions(m))
        .hasMessage("train.spark.transport must be socket or barrier, got 'mpi'");
    m.put("train.spark.transport", "barrier");
    assertThat(WorkerTask.Job.fromOptions(m).sync().transport())
        .isEqualTo(WorkerTask.Transport.BARRIER);
    m.put("student.heads", "two");
    assertThatThrownBy(() -> WorkerTask.Job.fromOptions(m))
        .hasMessage("student.heads must be an integer, got 'two'");
    m.put("student.heads", "2");
    m.remove("tokenizer");
    assertThatThrownBy(() -> WorkerTask.Job.fromOptions(m))
        .hasMessage("missing trainer option 'tokenizer'");
    m.put("tokenizer", "t.json");
    m.put("train.spark.sync", "ring");
    assertThatThrownBy(() -> WorkerTask.Job.fromOptions(m))
        .hasMessageContaining("train.spark.sync must be allreduce, average or diloco");
    m.put("train.spark.sync", "allreduce");
    m.put("resume", "yes");
    assertThatThrownBy(() -> WorkerTask.Job.fromOptions(m))
        .hasMessage("resume must be true or false, got 'yes'");
    m.remove("resume");
    m.put("timing.warmup-steps", "-1");
    assertThatThrownBy(() -> WorkerTask.Job.fromOptions(m))
        .hasMessage("timing.warmup-steps must be >= 0, got -1");
    m.remove("timing.warmup-steps");
    // early stopping would need every worker to agree on the stop: refused, not ignored
    m.put("train.patience", "3");
    assertThatThrownBy(() -> WorkerTask.Job.fromOptions(m))
        .hasMessageContaining("train.patience = 3");
  }

  @Test
  void eachRecordValidatesOnConstructionNamingTheField() {
    assertThatThrownBy(() -> new WorkerTask.Io("c", "t.json", "out", null, true, 0))
        .hasMessage("resume needs the trainer option 'checkpoints'");
    assertThatThrownBy(() -> new WorkerTask.Io("c", " ", "out", null, false, 0))
        .hasMessage("missing trainer option 'tokenizer'");
    assertThatThrownBy(() -> new WorkerTask.Io("c", "t.json", "out", null, false, -1))
        .hasMessage("stop-after must be >= 0, got -1");
    assertThatThrownBy(
            () ->
                new WorkerTask.Synchronisation(
                    WorkerTask.Sync.DILOCO, 8, 0, 0.7f, 0.9f, WorkerTask.Transport.SOCKET))
        .hasMessage("train.spark.inner-steps must be >= 1, got 0");
    assertThatThrownBy(
            () ->
                new WorkerTask.Synchronisation(
                    WorkerTask.Sync.DILOCO, 8, 5, 0.7f, 1f, WorkerTask.Transport.SOCKET))
        .hasMessage("train.spark.outer-momentum must be in [0, 1), got 1.0");
    assertThatThrownBy(
            () ->
                new WorkerTask.Hyperparameters(
                    16, 1, 2, 32, 10, 4, 0.002f, 0.5f, 1L, "forward_kl", 0, 0, 5))
        .hasMessage("train.accumulation-steps must be >= 1, got 0");
    WorkerTask.Io withCheckpoints = new WorkerTask.Io("c", "t.json", "out", "ck", false, 0);
    assertThatThrownBy(() -> new WorkerTask.Job(withCheckpoints, sync(), hyper(0)))
        .hasMessage("train.checkpoint-every must be >= 1 with checkpoints, got 0");
    WorkerTask.Job job = new WorkerTask.Job(io(), sync(), hyper(0));
    assertThatThrownBy(() -> new WorkerTask(2, 2, job))
        .hasMessage("rank 2 outside world of size 2");
  }

  @Test
  void aRetriedJobResumesFromItsCheckpoints() {
    WorkerTask.Io withCheckpoints = new WorkerTask.Io("c", "t.json", "out", "ck", false, 0);
    WorkerTask.Job job = new WorkerTask.Job(withCheckpoints, sync(), hyper(2));
    assertThat(job.resuming().io().resume()).isTrue();
    assertThat(job.resuming().hyper()).isEqualTo(job.hyper());
  }

  @Test
  void aTaskSurvivesJavaSerializationAsSparkShipsIt() throws Exception {
    Map<String, String> m = options();
    m.put("checkpoints", "ck");
    m.put("train.checkpoint-every", "3");
    m.put("resume", "true");
    m.put("stop-after", "7");
    WorkerTask task = new WorkerTask(1, 2, WorkerTask.Job.fromOptions(m));
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(task);
    }
    Object back;
    try (ObjectInputStream in =
        new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      back = in.readObject();
    }
    assertThat(back).isEqualTo(task);
    assertThat(((WorkerTask) back).job().io().stopAfter()).isEqualTo(7);
  }
}
