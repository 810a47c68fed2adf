package dev.distill.teacher.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.schemas.avro.Rationale;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.teacher.TestTeachers;
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
    teacher = TestTeachers.model("0123456789+=AQ. \n", 24, 2, 16, 5);
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
  void cachedDecodingSamplesWhatAFullForwardPerTokenSamples() {
    InProcessModel gpt = InProcessModel.of(teacher);
    // the same model without the KV cache: the interface's default decoding, a full forward a call
    InProcessModel uncached =
        new InProcessModel() {
          @Override
          public int[] encode(String text) {
            return gpt.encode(text);
          }

          @Override
          public String decode(int[] ids) {
            return gpt.decode(ids);
          }

          @Override
          public int contextTokens() {
            return gpt.contextTokens();
          }

          @Override
          public int vocabSize() {
            return gpt.vocabSize();
          }

          @Override
          public NDArray logits(NDManager manager, int[][] ids) {
            return gpt.logits(manager, ids);
          }
        };
    SoftLabeler labeler = new SoftLabeler(teacher, new LabelingConfig(4, 1f, 8));
    // rows stop at different steps ("=" is one of 17 characters), and equal-length prompts share a
    // batch, so finished rows leave the cached batch
    RationaleConfig config = new RationaleConfig(3, 1.0f, 10, Pattern.compile("(=)"), "Q%s=");
    List<String> prompts = List.of("1+2", "33+44", "5+6", "7+1");
    List<List<Rationale>> cached =
        new RationaleSampler(gpt, labeler, config).sampleAll(prompts, new Random(11));
    List<List<Rationale>> full =
        new RationaleSampler(uncached, labeler, config).sampleAll(prompts, new Random(11));
    java.util.Set<Integer> lengths = new java.util.HashSet<>();
    for (int p = 0; p < prompts.size(); p++) {
      for (int k = 0; k < 3; k++) {
        Rationale c = cached.get(p).get(k);
        Rationale f = full.get(p).get(k);
        assertThat(c.getText()).isEqualTo(f.getText());
        assertThat(c.getTokenIds()).isEqualTo(f.getTokenIds());
        assertThat(c.getMeanLogprob()).isCloseTo(f.getMeanLogprob(), within(1e-5f));
        lengths.add(c.getText().length());
      }
    }
    assertThat(lengths).hasSizeGreaterThan(1);
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
