package dev.distill.trainer.distributed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.distill.trainer.loss.Divergence;
import dev.distill.training.spi.WorkerTask;
import org.junit.jupiter.api.Test;

/**
 * The trainer's reading of its typed {@link WorkerTask.Job}; the job's own validation is {@code
 * WorkerTaskTest} (schemas).
 */
class DataParallelOptionsTest {
  /** 10 steps of batch 4; average every 4 steps, DiLoCo H = 5. */
  static WorkerTask.Job job(WorkerTask.Sync mode, String checkpoints, int checkpointEvery) {
    return new WorkerTask.Job(
        new WorkerTask.Io("c", "t.json", "out", checkpoints, false, 0),
        new WorkerTask.Synchronisation(mode, 4, 5, 0.7f, 0.9f, WorkerTask.Transport.SOCKET),
        new WorkerTask.Hyperparameters(
            16, 1, 2, 32, 10, 4, 0.002f, 0.5f, 1L, "forward_kl", checkpointEvery, 1, 5));
  }

  @Test
  void withoutACheckpointFolderNoStepIsACheckpoint() {
    WorkerTask.Job j = job(WorkerTask.Sync.ALLREDUCE, null, 0);
    for (int done = 1; done <= 10; done++) {
      assertThat(DataParallelStudentTrainer.checkpointDue(j, done)).as("step %d", done).isFalse();
    }
  }

  @Test
  void allReduceCheckpointsEveryCheckpointEverySteps() {
    WorkerTask.Job j = job(WorkerTask.Sync.ALLREDUCE, "ck", 3);
    assertThat(DataParallelStudentTrainer.checkpointDue(j, 3)).isTrue();
    assertThat(DataParallelStudentTrainer.checkpointDue(j, 4)).isFalse();
    assertThat(DataParallelStudentTrainer.checkpointDue(j, 6)).isTrue();
  }

  @Test
  void localSgdCheckpointsOnlyWhereTheParametersWereJustAveraged() {
    WorkerTask.Job j = job(WorkerTask.Sync.AVERAGE, "ck", 1);
    assertThat(DataParallelStudentTrainer.checkpointDue(j, 3)).isFalse();
    assertThat(DataParallelStudentTrainer.checkpointDue(j, 4)).isTrue();
    assertThat(DataParallelStudentTrainer.checkpointDue(j, 10)).isTrue(); // the last step
  }

  @Test
  void theDivergenceIsParsedByTheTrainerAndAnUnknownOneIsRefusedNamingTheKey() {
    assertThat(DataParallelStudentTrainer.divergence("forward_kl"))
        .isEqualTo(Divergence.parse("forward_kl"));
    assertThatThrownBy(() -> DataParallelStudentTrainer.divergence("kl9"))
        .hasMessageStartingWith("train.divergence: ");
  }
}
