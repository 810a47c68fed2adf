package dev.distill.trainer.evaluation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import org.junit.jupiter.api.Test;

class GenerationSpeedTest {
  @Test
  void flopsPerTokenFollowsTheKaplanCount() {
    GptConfig c = new GptConfig(65, 64, 4, 4, 128, 0f);
    long nonEmbedding = 4L * 12 * 128 * 128;
    assertThat(GenerationSpeed.flopsPerToken(c))
        .isEqualTo(2 * nonEmbedding + 2L * 4 * 64 * 128 + 2L * 65 * 128);
  }

  @Test
  void measuresOrderedLatencyPercentilesAndAPositiveRate() {
    CharTokenizer tok = CharTokenizer.fromCorpus("abcdef");
    try (LanguageModel lm = LanguageModel.create(new GptConfig(6, 16, 1, 2, 16, 0f), tok, 1)) {
      GenerationSpeed.Result r = GenerationSpeed.measure(lm, tok.encode("abc"), 8, 2);
      assertThat(r.tokensPerSecond()).isPositive();
      assertThat(r.p50Millis()).isPositive().isLessThanOrEqualTo(r.p95Millis());
    }
  }
}
