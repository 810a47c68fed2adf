package dev.distill.models.gpt;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.tokenizer.CharTokenizer;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The standard DJL training path, as the student trainer uses it, on a model from this module. */
class LanguageModelTrainingTest {

  private static final String TEXT = "the quick brown fox jumps over the lazy dog. ".repeat(20);
  private static final CharTokenizer TOKENIZER = CharTokenizer.fromCorpus(TEXT);
  private static final GptConfig CONFIG = new GptConfig(TOKENIZER.vocabSize(), 16, 2, 2, 32, 0f);
  private static final int BATCH = 8;

  private static Trainer newTrainer(LanguageModel lm) {
    return lm.model()
        .newTrainer(
            new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                .optOptimizer(
                    Optimizer.adam().optLearningRateTracker(Tracker.fixed(5e-3f)).build()));
  }

  /** One Adam step on random windows of the text; returns the mean cross-entropy before it. */
  private static float step(Trainer trainer, int[] ids, Random rng) {
    int t = CONFIG.blockSize();
    int[][] x = new int[BATCH][t];
    int[][] y = new int[BATCH][t];
    for (int b = 0; b < BATCH; b++) {
      int start = rng.nextInt(ids.length - t - 1);
      System.arraycopy(ids, start, x[b], 0, t);
      System.arraycopy(ids, start + 1, y[b], 0, t);
    }
    float loss;
    try (NDManager manager = trainer.getManager().newSubManager()) {
      NDArray xs = manager.create(x);
      NDArray ys = manager.create(y).reshape(-1);
      try (GradientCollector gc = trainer.newGradientCollector()) {
        NDArray logits = trainer.forward(new NDList(xs)).singletonOrThrow();
        NDArray flat = logits.reshape(-1, CONFIG.vocabSize());
        NDArray l = trainer.getLoss().evaluate(new NDList(ys), new NDList(flat));
        loss = l.getFloat();
        gc.backward(l);
      }
      trainer.step();
    }
    return loss;
  }

  @Test
  void newTrainerKeepsTheCreatedParameters() {
    int[][] tokens = {TOKENIZER.encode("the lazy dog")};
    try (LanguageModel lm = LanguageModel.create(CONFIG, TOKENIZER, 11);
        NDManager manager = NDManager.newBaseManager()) {
      float[] before = lm.logits(manager, tokens).toFloatArray();
      String sha = lm.parametersSha256();
      try (Trainer trainer = newTrainer(lm)) {
        trainer.initialize(new Shape(BATCH, CONFIG.blockSize()));
        NDArray trainingForward =
            trainer.forward(new NDList(manager.create(tokens))).singletonOrThrow();
        assertThat(trainingForward.toFloatArray()).containsExactly(before);
        assertThat(lm.parametersSha256()).isEqualTo(sha);
        assertThat(lm.logits(manager, tokens).toFloatArray()).containsExactly(before);
      }
    }
  }

  @Test
  void sixtyAdamStepsOnARepeatedStringHalveTheLossWithoutLeaking() {
    int[] ids = TOKENIZER.encode(TEXT);
    Random rng = new Random(5);
    try (LanguageModel lm = LanguageModel.create(CONFIG, TOKENIZER, 1);
        Trainer trainer = newTrainer(lm)) {
      String initial = lm.parametersSha256();
      float first = step(trainer, ids, rng);
      int modelArrays = lm.model().getNDManager().getManagedArrays().size();
      int trainerArrays = trainer.getManager().getManagedArrays().size();
      float last = first;
      for (int i = 1; i < 60; i++) {
        last = step(trainer, ids, rng);
      }
      // Nothing a step computes stays attached to the model's or the trainer's manager.
      assertThat(lm.model().getNDManager().getManagedArrays()).hasSize(modelArrays);
      assertThat(trainer.getManager().getManagedArrays()).hasSize(trainerArrays);
      // An untrained model is near uniform: loss about ln(V).
      assertThat(first).isBetween((float) Math.log(CONFIG.vocabSize()) - 0.5f, 4f);
      assertThat(last).isLessThan(first / 2);
      assertThat(lm.parametersSha256()).isNotEqualTo(initial);
    }
  }

  @Test
  void aLoadedCheckpointTrainsLikeACreatedModel(@TempDir Path dir) throws Exception {
    int[] ids = TOKENIZER.encode(TEXT);
    try (LanguageModel lm = LanguageModel.create(CONFIG, TOKENIZER, 1)) {
      Checkpoints.save(lm, dir.resolve("c"), Map.of());
    }
    try (LanguageModel loaded = Checkpoints.load(dir.resolve("c"));
        Trainer trainer = newTrainer(loaded)) {
      String initial = loaded.parametersSha256();
      float first = step(trainer, ids, new Random(5));
      float last = first;
      for (int i = 1; i < 30; i++) {
        last = step(trainer, ids, new Random(5 + i));
      }
      assertThat(loaded.parametersSha256()).isNotEqualTo(initial);
      assertThat(last).isLessThan(first);
    }
  }
}
