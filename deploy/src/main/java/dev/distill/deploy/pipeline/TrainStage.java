package dev.distill.deploy.pipeline;

import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.Tokenizer;
import dev.distill.trainer.data.Example;
import dev.distill.trainer.io.CuratedDataset;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.hadoop.conf.Configuration;

/**
 * Training students, one job: a model the caller made and owns, its batches, the training loop with
 * a progress line, then its checkpoint. Shared by every workload (char, subword, arithmetic); what
 * differs between them (architecture, batches, loss, regulariser) comes in as arguments.
 */
record TrainStage(TrainConfig tc, String stage, String runId, PrintStream out) {
  /** Training a workload's students on the demo's student recipe, logged as {@code stage}. */
  static TrainStage students(
      DemoConfig config, int steps, int batch, String stage, PrintStream out) {
    return new TrainStage(
        LocalPipeline.studentTrainConfig(config, steps, batch), stage, config.runId(), out);
  }

  /**
   * A cosine schedule with weight decay 0.01 and gradient clipping at 1 (nanoGPT's defaults):
   * warm-up over {@code steps / warmupDivisor} steps, validation every {@code steps / evalDivisor}.
   */
  static TrainConfig recipe(
      int steps,
      int batch,
      float lr,
      float minLr,
      int warmupDivisor,
      int evalDivisor,
      int evalBatches,
      long seed) {
    return TrainConfig.builder(steps, batch, lr)
        .warmupSteps(Math.max(1, steps / warmupDivisor))
        .minLearningRate(minLr)
        .weightDecay(0.01f)
        .evaluation(Math.max(1, steps / evalDivisor), evalBatches)
        .seed(seed)
        .build();
  }

  /**
   * The KD student and the hard-label student (alpha 0): the same architecture from {@code create},
   * steps and seed, each saved under {@code modelsDir/NAME}.
   *
   * @param describe the part of each student's console line before its loss, e.g. {@code
   *     Llama-family, 12,345 params}
   * @return each student's curve, by name, in that order
   */
  Map<String, TrainResult> kdAndHardLabel(
      Supplier<LanguageModel> create,
      String describe,
      List<Example> train,
      List<Example> val,
      DistillationLoss kd,
      DistillationLoss hard,
      Path modelsDir)
      throws IOException {
    Map<String, TrainResult> curves = new LinkedHashMap<>();
    for (Map.Entry<String, DistillationLoss> e :
        List.of(Map.entry(KD, kd), Map.entry(HARD_LABEL, hard))) {
      DistillationLoss loss = e.getValue();
      out.printf(
          Locale.ROOT,
          "[%s] %s: %s, alpha %.2f (%s)%n",
          stage,
          e.getKey(),
          describe,
          loss.alpha(),
          loss.description());
      try (LanguageModel s = create.get()) {
        curves.put(
            e.getKey(), train(e.getKey(), s, batches(train, loss), batches(val, loss), null));
        save(s, modelsDir.resolve(e.getKey()), loss.description());
      }
    }
    return curves;
  }

  /** A nanoGPT-style teacher recipe: minimum lr a tenth, validation every quarter, 8 batches. */
  static TrainConfig teacherRecipe(int steps, int batch, float lr, long seed) {
    return recipe(steps, batch, lr, lr / 10, 20, 4, 8, seed);
  }

  /** A workload's curated examples: its train split and its val split. */
  record Curated(CuratedDataset train, CuratedDataset val) {
    /**
     * Reads {@code workloadDir/curated} (checking that it was labelled with {@code tokenizer}); a
     * tiny run can leave the val split empty ({@code valExamples == 0}), and validation then reuses
     * the train split.
     */
    static Curated read(Path workloadDir, Tokenizer tokenizer, long valExamples)
        throws IOException {
      String dir = workloadDir.resolve("curated").toString();
      CuratedDataset train =
          CuratedDataset.read(
              dir, "train", tokenizer.id(), tokenizer.sha256(), new Configuration());
      return new Curated(
          train,
          valExamples > 0
              ? CuratedDataset.read(
                  dir, "val", tokenizer.id(), tokenizer.sha256(), new Configuration())
              : train);
    }
  }

  static final String KD = "kd-student";
  static final String HARD_LABEL = "hard-label-student";

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
