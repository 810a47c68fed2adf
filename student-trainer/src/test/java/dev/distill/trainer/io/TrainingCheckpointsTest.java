package dev.distill.trainer.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.distill.models.checkpoint.CheckpointException;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.trainer.training.Checkpointing;
import dev.distill.trainer.training.TextWindows;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainingLoop;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingCheckpointsTest {
  private static final String TEXT =
      "all the world's a stage, and all the men and women ".repeat(20);

  @TempDir Path tmp;

  /** Trains 6 steps; returns the loss of each step by step number. */
  private static Map<Integer, Double> train(Checkpointing ckpt) {
    CharTokenizer tok = CharTokenizer.fromCorpus(TEXT);
    int[] ids = tok.encode(TEXT);
    TrainConfig tc = schedule(6, 3);
    Map<Integer, Double> losses = new TreeMap<>();
    try (LanguageModel lm =
        LanguageModel.create(new GptConfig(tok.vocabSize(), 16, 1, 2, 16, 0.1f), tok, 5)) {
      TrainingLoop.run(
          lm,
          new TextWindows(ids, 16, 4),
          new TextWindows(ids, 16, 4),
          tc,
          (step, total, loss, val, tps) -> losses.put(step, loss),
          ckpt);
    }
    return losses;
  }

  private static void flipAByte(Path file) throws IOException {
    byte[] b = Files.readAllBytes(file);
    b[b.length / 2] ^= 0x5A;
    Files.write(file, b);
  }

  private static TrainConfig schedule(int steps, int evalEvery) {
    return TrainConfig.builder(steps, 4, 3e-3f)
        .warmupSteps(2)
        .weightDecay(0.1f)
        .evaluation(evalEvery, 1)
        .seed(5)
        .build();
  }

  @Test
  void writesCompleteCheckpointsAndKeepsTheNewest() throws IOException {
    Path dir = tmp.resolve("ckpt");
    train(new Checkpointing(dir, 2, 2, false, Map.of("loss.divergence", "forward_kl")));
    assertThat(TrainingCheckpoints.list(dir))
        .extracting(p -> p.getFileName().toString())
        .containsExactly("step-00000006", "step-00000004");
    try (var files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith("."));
    }
    Path latest = TrainingCheckpoints.dirOf(dir, 6);
    assertThat(latest.resolve(TrainingCheckpoints.OPTIMIZER)).isNotEmptyFile();
    // every checkpoint is also a loadable model export carrying the run metadata
    assertThat(Checkpoints.metadata(latest.resolve(TrainingCheckpoints.MODEL)))
        .containsEntry("loss.divergence", "forward_kl");
    TrainingCheckpoints.Found found = TrainingCheckpoints.latestValid(dir, w -> {}).orElseThrow();
    assertThat(found.state().step()).isEqualTo(6);
    assertThat(found.state().config()).containsEntry("steps", "6");
    assertThat(found.state().curve()).hasSize(2);
  }

  @Test
  void corruptedLatestCheckpointIsDetectedAndThePreviousOneIsUsedWithAWarning() throws IOException {
    Map<Integer, Double> reference = train(Checkpointing.none());
    Path dir = tmp.resolve("ckpt");
    train(new Checkpointing(dir, 2, 3, false, Map.of()));
    flipAByte(TrainingCheckpoints.dirOf(dir, 6).resolve(TrainingCheckpoints.OPTIMIZER));

    List<String> warnings = new ArrayList<>();
    TrainingCheckpoints.Found found =
        TrainingCheckpoints.latestValid(dir, warnings::add).orElseThrow();
    assertThat(found.dir().getFileName().toString()).isEqualTo("step-00000004");
    assertThat(warnings).singleElement().asString().contains("step-00000006").contains("sha256");

    // resuming uses step 4 and recomputes steps 5 and 6 exactly as the uninterrupted run did
    Map<Integer, Double> resumed = train(new Checkpointing(dir, 2, 3, true, Map.of()));
    assertThat(resumed.keySet()).containsExactly(5, 6);
    assertThat(resumed.get(5)).isEqualTo(reference.get(5));
    assertThat(resumed.get(6)).isEqualTo(reference.get(6));
  }

  @Test
  void damagedModelFilesAreCaughtThroughTheNestedManifest() throws IOException {
    Path dir = tmp.resolve("ckpt");
    train(new Checkpointing(dir, 2, 3, false, Map.of()));
    flipAByte(
        TrainingCheckpoints.dirOf(dir, 6)
            .resolve(TrainingCheckpoints.MODEL)
            .resolve(Checkpoints.PARAMETERS));
    flipAByte(TrainingCheckpoints.dirOf(dir, 4).resolve(TrainingCheckpoints.STATE));
    List<String> warnings = new ArrayList<>();
    assertThat(TrainingCheckpoints.latestValid(dir, warnings::add).orElseThrow().state().step())
        .isEqualTo(2);
    assertThat(warnings).hasSize(2);

    flipAByte(TrainingCheckpoints.dirOf(dir, 2).resolve(TrainingCheckpoints.MANIFEST));
    assertThatThrownBy(() -> TrainingCheckpoints.latestValid(dir, w -> {}))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("no usable checkpoint");
  }

  @Test
  void lowRankStudentsCheckpointIsALoadableModelWithItsMixedRanks() throws IOException {
    CharTokenizer tok = CharTokenizer.fromCorpus(TEXT);
    int[] ids = tok.encode(TEXT);
    GptConfig config = new GptConfig(tok.vocabSize(), 16, 1, 2, 16, 0f);
    Map<String, Integer> ranks = new java.util.LinkedHashMap<>();
    int r = 1;
    for (String layer : dev.distill.models.gpt.Gpt.linearShapes(config).keySet()) {
      ranks.put(layer, r);
      r += 3;
    }
    Path dir = tmp.resolve("ckpt");
    TrainConfig tc = schedule(4, 2);
    try (LanguageModel lm = LanguageModel.create(config, tok, 5, ranks)) {
      TrainingLoop.run(
          lm,
          new TextWindows(ids, 16, 4),
          new TextWindows(ids, 16, 4),
          tc,
          (step, total, loss, val, tps) -> {},
          new Checkpointing(dir, 4, 2, false, Map.of()));
      try (LanguageModel back =
              Checkpoints.load(
                  TrainingCheckpoints.dirOf(dir, 4).resolve(TrainingCheckpoints.MODEL));
          ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager()) {
        assertThat(back.block().ranks()).containsExactlyEntriesOf(ranks);
        assertThat(back.parametersSha256()).isEqualTo(lm.parametersSha256());
        int[][] x = {java.util.Arrays.copyOf(ids, 16)};
        assertThat(back.logits(m, x).toFloatArray())
            .containsExactly(lm.logits(m, x).toFloatArray());
      }
    }
  }
}
