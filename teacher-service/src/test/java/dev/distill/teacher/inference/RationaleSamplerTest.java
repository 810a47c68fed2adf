package dev.distill.teacher.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.schemas.avro.Rationale;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import java.util.List;
import java.util.Random;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class RationaleSamplerTest {
  static LanguageModel teacher;

  @BeforeAll
  static void teacher() {
    CharTokenizer tok = CharTokenizer.fromCorpus("0123456789+=AQ. \n");
    teacher = LanguageModel.create(new GptConfig(tok.vocabSize(), 24, 1, 2, 16, 0f), tok, 5);
  }

  @AfterAll
  static void close() {
    teacher.close();
  }

  private static RationaleSampler sampler(int n, String pattern, int maxTokens) {
    return new RationaleSampler(
        teacher,
        new SoftLabeler(teacher, new LabelingConfig(4, 1f, 8)),
        new RationaleConfig(n, 1.0f, maxTokens, Pattern.compile(pattern), "Q%s="));
  }

  @Test
  void eachRationaleCarriesPromptTokensSoftLabelsAndItsMeanLogprob() {
    List<Rationale> rs = sampler(3, "A (\\d+)\\.", 6).sample("12+3", new Random(1));
    assertThat(rs).hasSize(3);
    int[] prompt = teacher.tokenizer().encode("Q12+3=");
    for (Rationale r : rs) {
      assertThat(r.getTokenIds()).hasSize(prompt.length + r.getText().length());
      for (int i = 0; i < prompt.length; i++) {
        assertThat(r.getTokenIds().get(i)).isEqualTo(prompt[i]);
      }
      byte[] b = new byte[r.getSoftLabels().remaining()];
      r.getSoftLabels().duplicate().get(b);
      SoftLabels labels = SoftLabelCodec.decode(b);
      assertThat(labels.positions()).isEqualTo(r.getTokenIds().size() - 1);
      assertThat(r.getMeanLogprob()).isLessThanOrEqualTo(0f);
      assertThat(r.getText()).hasSizeLessThanOrEqualTo(6);
    }
  }

  @Test
  void generationStopsWhenTheAnswerPatternMatchesAndTheAnswerIsExtracted() {
    List<Rationale> rs = sampler(4, "(.)", 10).sample("1+1", new Random(2));
    for (Rationale r : rs) {
      assertThat(r.getText()).hasSize(1);
      assertThat(r.getAnswer()).isEqualTo(r.getText());
    }
  }

  @Test
  void noAnswerWhenThePatternNeverMatches() {
    List<Rationale> rs = sampler(2, "(ZZZ)", 3).sample("1+1", new Random(3));
    assertThat(rs).allSatisfy(r -> assertThat(r.getAnswer()).isNull());
  }

  @Test
  void sameSeedSamplesTheSameRationales() {
    List<String> a =
        sampler(3, "A (\\d+)\\.", 8).sample("7+8", new Random(9)).stream()
            .map(Rationale::getText)
            .toList();
    List<String> b =
        sampler(3, "A (\\d+)\\.", 8).sample("7+8", new Random(9)).stream()
            .map(Rationale::getText)
            .toList();
    assertThat(a).isEqualTo(b);
  }

  @Test
  void batchedSamplingKeepsEachPromptsRationalesWithItsPrompt() {
    List<String> prompts = List.of("1+2", "33+44", "5+6", "777+1");
    List<List<Rationale>> all = sampler(2, "A (\\d+)\\.", 4).sampleAll(prompts, new Random(5));
    assertThat(all).hasSize(4);
    for (int p = 0; p < prompts.size(); p++) {
      int[] prompt = teacher.tokenizer().encode("Q" + prompts.get(p) + "=");
      assertThat(all.get(p)).hasSize(2);
      for (Rationale r : all.get(p)) {
        for (int i = 0; i < prompt.length; i++) {
          assertThat(r.getTokenIds().get(i)).isEqualTo(prompt[i]);
        }
      }
    }
  }

  @Test
  void promptThatFillsTheContextIsRefused() {
    assertThatThrownBy(() -> sampler(1, "(.)", 5).sample("1".repeat(30), new Random(1)))
        .hasMessageContaining("no room");
  }

  @Test
  void samplingAtLowTemperaturePicksTheMode() {
    float[] logp = {(float) Math.log(0.1), (float) Math.log(0.7), (float) Math.log(0.2)};
    Random rng = new Random(4);
    for (int i = 0; i < 20; i++) {
      assertThat(RationaleSampler.sample(logp, 0, 3, 0.01f, rng)).isEqualTo(1);
    }
  }
}
