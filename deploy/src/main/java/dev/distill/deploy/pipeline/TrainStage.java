package dev.distill.deploy.pipeline;

import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.trainer.data.Example;
import dev.distill.trainer.loss.DistillationLoss;
import dev.distill.trainer.training.BatchSource;
import dev.distill.trainer.training.Checkpointing;
import dev.distill.trainer.training.Regularizer;
import dev.distill.trainer.training.SoftLabelBatches;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainResult;
import dev.distill.trainer.training.TrainingLoop;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Training students, one job: a model the caller made and owns, its batches, the training loop with
 * a progress line, then its checkpoint. Shared by every workload (char, subword, arithmetic); what
 * differs between them (architecture, batches, loss, regulariser) comes in as arguments.
 */
final class TrainStage {
  private final TrainConfig tc;
  private final String stage;
  private final String runId;
  private final PrintStream out;

  /**
   * @param stage prefix of progress lines, e.g. {@code train subword}
   */
  TrainStage(TrainConfig tc, String stage, String runId, PrintStream out) {
    this.tc = tc;
    this.stage = stage;
    this.runId = runId;
    this.out = out;
  }

  TrainConfig config() {
    return tc;
  }

  /** Soft-label batches of {@code examples} under {@code loss}, at this stage's batch size. */
  BatchSource batches(List<Example> examples, DistillationLoss loss) {
    return new SoftLabelBatches(examples, tc.batchSize(), loss);
  }

  /**
   * Trains {@code student} in place.
   *
   * @param regularizer a penalty added to each step's loss (self-compression), or null
   */
  TrainResult train(
      String name,
      LanguageModel student,
      BatchSource train,
      BatchSource val,
      Regularizer regularizer) {
    StageProgress progress = new StageProgress(out, stage + " " + name);
    return TrainingLoop.run(
        student,
        train,
        val,
        tc,
        (step, total, l, v, tps) ->
            progress.update(step, total, StageProgress.trainingDetail(l, v, tps)),
        Checkpointing.none(),
        regularizer);
  }

  /** Saves a trained student as a checkpoint whose manifest names its role, loss and run. */
  void save(LanguageModel student, Path dir, String lossDescription) throws IOException {
    Checkpoints.save(
        student, dir, Map.of("role", "student", "loss", lossDescription, "run_id", runId));
  }
}
