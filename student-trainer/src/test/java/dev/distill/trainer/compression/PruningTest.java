package dev.distill.trainer.compression;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.trainer.training.Checkpointing;
import dev.distill.trainer.training.TextWindows;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainingLoop;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PruningTest {
  private static final String TEXT =
      "now is the winter of our discontent made glorious ".repeat(30);
  private static final CharTokenizer TOK = CharTokenizer.fromCorpus(TEXT);
  private static final GptConfig CONFIG = new GptConfig(TOK.vocabSize(), 16, 1, 2, 16, 0f);

  private static int[][] calibration() {
    return Windows.of(TOK.encode(TEXT), 16, 0, 20, 40);
  }

  private static float[] weight(LanguageModel lm, String name) {
    return lm.block().getParameters().get(name).getArray().toFloatArray();
  }

  @Test
  void magnitudeUnstructuredRemovesTheSmallestWeightsOfEachLayer() {
    try (LanguageModel lm = LanguageModel.create(CONFIG, TOK, 1)) {
      float[] before = weight(lm, "h0.fc.weight");
      Pruning.apply(lm, Pruning.Method.MAGNITUDE, 0.5f, false, null);
      float[] after = weight(lm, "h0.fc.weight");
      float largestRemoved = 0;
      float smallestKept = Float.MAX_VALUE;
      for (int i = 0; i < before.length; i++) {
        if (after[i] == 0f) {
          largestRemoved = Math.max(largestRemoved, Math.abs(before[i]));
        } else {
          smallestKept = Math.min(smallestKept, Math.abs(before[i]));
          assertThat(after[i]).isEqualTo(before[i]);
        }
      }
      assertThat(largestRemoved).isLessThanOrEqualTo(smallestKept);
      assertThat(Pruning.sparsity(lm)).allSatisfy((k, v) -> assertThat(v).isEqualTo(0.5));
    }
  }

  @Test
  void structuredPruningRemovesWholeOutputChannelsWithTheirBias() {
    try (LanguageModel lm = LanguageModel.create(CONFIG, TOK, 1)) {
      // give the biases values so their removal is visible
      for (Pair<String, Parameter> p : lm.block().getParameters()) {
        if (p.getKey().endsWith(".bias")) {
          p.getValue().getArray().addi(0.5f);
        }
      }
      Pruning.apply(lm, Pruning.Method.MAGNITUDE, 0.25f, true, null);
      float[] w = weight(lm, "h0.fc.weight"); // (64, 16)
      float[] b = weight(lm, "h0.fc.bias");
      int zeroRows = 0;
      for (int r = 0; r < 64; r++) {
        boolean allZero = true;
        for (int c = 0; c < 16; c++) {
          allZero &= w[r * 16 + c] == 0f;
        }
        if (allZero) {
          zeroRows++;
          assertThat(b[r]).isZero();
        } else {
          assertThat(b[r]).isEqualTo(0.5f);
        }
      }
      assertThat(zeroRows).isEqualTo(16);
    }
  }

  @Test
  void wandaWeighsByInputActivationNormsPerOutputRow() {
    try (LanguageModel mag = LanguageModel.create(CONFIG, TOK, 2);
        LanguageModel wanda = LanguageModel.create(CONFIG, TOK, 2)) {
      Map<String, float[]> norms = Pruning.inputNorms(wanda, calibration());
      assertThat(norms).containsKeys("h0.attn", "h0.attnProj", "h0.fc", "h0.mlpProj");
      Pruning.apply(mag, Pruning.Method.MAGNITUDE, 0.5f, false, null);
      Pruning.apply(wanda, Pruning.Method.WANDA, 0.5f, false, calibration());
      float[] w = weight(wanda, "h0.mlpProj.weight"); // (16, 64): each row loses exactly 32
      for (int r = 0; r < 16; r++) {
        int zeros = 0;
        for (int c = 0; c < 64; c++) {
          zeros += w[r * 64 + c] == 0f ? 1 : 0;
        }
        assertThat(zeros).isEqualTo(32);
      }
      // the activation norms change which weights go (GELU outputs differ a lot in scale)
      assertThat(w).isNotEqualTo(weight(mag, "h0.mlpProj.weight"));
    }
  }

  @Test
  void fineTuningKeepsPrunedWeightsAtZero() {
    try (LanguageModel lm = LanguageModel.create(CONFIG, TOK, 3)) {
      Pruning pruning = Pruning.apply(lm, Pruning.Method.WANDA, 0.5f, false, calibration());
      float[] before = weight(lm, "h0.attn.weight");
      int[] ids = TOK.encode(TEXT);
      TrainingLoop.run(
          lm,
          new TextWindows(ids, 16, 4),
          new TextWindows(ids, 16, 4),
          TrainConfig.builder(10, 4, 3e-3f)
              .warmupSteps(2)
              .weightDecay(0.1f)
              .evaluation(10, 1)
              .seed(3)
              .build(),
          (s, t, l, v, r) -> {},
          Checkpointing.none(),
          pruning);
      float[] after = weight(lm, "h0.attn.weight");
      int moved = 0;
      for (int i = 0; i < before.length; i++) {
        if (before[i] == 0f) {
          assertThat(after[i]).isZero();
        } else if (after[i] != before[i]) {
          moved++;
        }
      }
      assertThat(moved).isGreaterThan(before.length / 4); // the kept weights did train
      assertThat(Pruning.sparsity(lm).get("h0.attn")).isEqualTo(0.5);
    }
  }
}
