package dev.distill.trainer.compression;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.gpt.PackedExport;
import dev.distill.models.nn.LinearMode;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.trainer.training.Checkpointing;
import dev.distill.trainer.training.TextWindows;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainResult;
import dev.distill.trainer.training.TrainingLoop;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CompressedStudentsTest {
  private static final String TEXT = "to be or not to be, that is the question. ".repeat(40);
  private static final CharTokenizer TOK = CharTokenizer.fromCorpus(TEXT);

  @TempDir Path tmp;

  private static TrainResult train(LanguageModel lm, int steps, SelfCompression reg) {
    int[] ids = TOK.encode(TEXT);
    TrainConfig tc =
        TrainConfig.builder(steps, 8, 3e-3f).warmupSteps(5).evaluation(steps, 2).seed(1).build();
    return TrainingLoop.run(
        lm,
        new TextWindows(ids, 16, 8),
        new TextWindows(ids, 16, 8),
        tc,
        (s, t, l, v, r) -> {},
        Checkpointing.none(),
        reg);
  }

  @Test
  void ternaryStudentLearnsAndExportsAtTwoBitsPerWeight() throws IOException {
    try (LanguageModel lm =
        LanguageModel.create(
            new GptConfig(TOK.vocabSize(), 16, 1, 2, 32, 0f), TOK, 1, LinearMode.TERNARY)) {
      TrainResult r = train(lm, 60, null);
      assertThat(r.finalValLoss()).isLessThan(Math.log(TOK.vocabSize()) * 0.6);
      PackedExport.Summary s = PackedExport.write(lm, tmp.resolve("ternary"));
      assertThat(s.bitsPerWeight()).isEqualTo(2.0);
      try (LanguageModel back = PackedExport.read(tmp.resolve("ternary"));
          NDManager m = NDManager.newBaseManager()) {
        int[][] x = {java.util.Arrays.copyOf(TOK.encode(TEXT), 16)};
        assertThat(back.logits(m, x).toFloatArray())
            .containsExactly(lm.logits(m, x).toFloatArray());
      }
    }
  }

  @Test
  void selfCompressionPenaltyDrivesBitsPerWeightDownWhileTheModelStillLearns() throws IOException {
    GptConfig config = new GptConfig(TOK.vocabSize(), 16, 1, 2, 32, 0f);
    SelfCompression reg = new SelfCompression(0.05f);
    try (LanguageModel lm = LanguageModel.create(config, TOK, 1, LinearMode.SELF_COMPRESSING)) {
      TrainResult r = train(lm, 60, reg);
      List<double[]> h = reg.history();
      assertThat(h).hasSize(60);
      assertThat(h.get(0)[1]).isEqualTo(8.0, org.assertj.core.api.Assertions.within(1e-3));
      assertThat(h.get(59)[1]).isLessThan(7.5); // Adam moves b by about 10 x lr per step
      assertThat(r.finalValLoss()).isLessThan(Math.log(TOK.vocabSize()) * 0.6);
      PackedExport.Summary s = PackedExport.write(lm, tmp.resolve("sc"));
      assertThat(s.bitsPerWeight()).isLessThan(8.0);
      assertThat(s.layers()).hasSize(4);
    }
  }
}
