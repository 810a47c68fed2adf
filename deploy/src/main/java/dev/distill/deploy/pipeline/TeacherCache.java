package dev.distill.deploy.pipeline;

import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.nn.LmConfig;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.models.tokenizer.Tokenizer;
import dev.distill.teacher.inference.TeacherIdentity;
import dev.distill.trainer.training.TextWindows;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainResult;
import dev.distill.trainer.training.TrainingLoop;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Teachers the pipeline trains itself, cached by a key over everything that determines them (data
 * hash, model and training configuration, tokenizer), so a second run loads instead of retraining,
 * and any change retrains.
 */
final class TeacherCache {
  private TeacherCache() {}

  /**
   * @param teacherId stored in the checkpoint's metadata ({@link TeacherIdentity#TEACHER_ID_KEY}):
   *     the id every command that labels with this checkpoint records
   */
  static Path loadOrTrain(
      Path cacheDir,
      String name,
      String teacherId,
      String dataSha256,
      GptConfig gc,
      TrainConfig tc,
      CharTokenizer tokenizer,
      int[] train,
      int[] val,
      long seed,
      PrintStream out)
      throws IOException {
    return loadOrTrain(
        cacheDir,
        name,
        teacherId,
        dataSha256,
        gc,
        String.format(
            Locale.ROOT,
            "a char-level GPT: %d layers, %d heads, %d wide, context %d",
            gc.nLayer(),
            gc.nHead(),
            gc.nEmbd(),
            gc.blockSize()),
        () -> LanguageModel.create(gc, tokenizer, seed),
        tc,
        tokenizer,
        train,
        val,
        out);
  }

  /**
   * As above for a model of any family: {@code create} makes the randomly initialised model of
   * {@code lc} (described in the progress line by {@code what}); the key covers the data hash, the
   * config's JSON, the training config and the tokenizer's sha256.
   */
  static Path loadOrTrain(
      Path cacheDir,
      String name,
      String teacherId,
      String dataSha256,
      LmConfig lc,
      String what,
      Supplier<LanguageModel> create,
      TrainConfig tc,
      Tokenizer tokenizer,
      int[] train,
      int[] val,
      PrintStream out)
      throws IOException {
    String key =
        LocalPipeline.sha256(dataSha256 + "|" + lc.toJson() + "|" + tc + "|" + tokenizer.sha256())
            .substring(0, 16);
    Path dir = cacheDir.resolve(name + "-" + key).toAbsolutePath();
    String stage = "teacher " + name;
    if (Files.exists(dir.resolve("manifest.json"))) {
      try {
        Checkpoints.load(dir).close();
        out.println("[" + stage + "] cached checkpoint " + dir);
        return dir;
      } catch (RuntimeException | IOException e) {
        out.println(
            "[" + stage + "] cached checkpoint unusable (" + e.getMessage() + "), retraining");
      }
    }
    out.printf(
        Locale.ROOT,
        "[%s] training %s, %,d params, %d steps%n",
        stage,
        what,
        lc.parameterCount(),
        tc.steps());
    StageProgress sp = new StageProgress(out, stage);
    try (LanguageModel teacher = create.get()) {
      TrainResult r =
          TrainingLoop.run(
              teacher,
              new TextWindows(train, lc.blockSize(), tc.batchSize()),
              new TextWindows(val, lc.blockSize(), tc.batchSize()),
              tc,
              (step, total, l, v, tps) ->
                  sp.update(step, total, StageProgress.trainingDetail(l, v, tps)));
      out.printf(Locale.ROOT, "[%s] val loss %.4f%n", stage, r.finalValLoss());
      Checkpoints.save(
          teacher,
          dir,
          Map.of(
              TeacherIdentity.TEACHER_ID_KEY,
              teacherId,
              "role",
              "teacher",
              "data_sha256",
              dataSha256,
              "val_loss",
              Double.toString(r.finalValLoss())));
    }
    return dir;
  }
}
