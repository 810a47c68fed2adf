package dev.distill.models.generation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class SamplerTest {

  private static final CharTokenizer TOKENIZER = CharTokenizer.fromCorpus("abcdefgh");
  private static final GptConfig CONFIG = new GptConfig(TOKENIZER.vocabSize(), 8, 1, 2, 16, 0f);
  private static LanguageModel lm;

  @BeforeAll
  static void createModel() {
    lm = LanguageModel.create(CONFIG, TOKENIZER, 3);
  }

  @AfterAll
  static void closeModel() {
    lm.close();
  }

  @Test
  void greedySamplingIsDeterministicAndIgnoresTheRng() {
    int[] prompt = TOKENIZER.encode("abc");
    int[] a = Sampler.generate(lm, prompt, 20, 0f, new Random(1));
    int[] b = Sampler.generate(lm, prompt, 20, 0f, new Random(2));
    assertThat(a).hasSize(23).startsWith(prompt).containsExactly(b);
  }

  @Test
  void greedyPicksTheArgmaxOfTheLastPosition() {
    int[] prompt = TOKENIZER.encode("hg");
    int[] out = Sampler.generate(lm, prompt, 1, 0f, new Random(0));
    float[] last;
    try (var manager = ai.djl.ndarray.NDManager.newBaseManager()) {
      last = lm.logits(manager, new int[][] {prompt}).get("0, -1, :").toFloatArray();
    }
    int argmax = 0;
    for (int i = 1; i < last.length; i++) {
      if (last[i] > last[argmax]) {
        argmax = i;
      }
    }
    assertThat(out[2]).isEqualTo(argmax);
  }

  @Test
  void samplingWithTheSameSeedRepeatsAndRunsPastTheBlockSize() {
    int[] prompt = TOKENIZER.encode("a");
    int[] a = Sampler.generate(lm, prompt, 3 * CONFIG.blockSize(), 1f, new Random(9));
    int[] b = Sampler.generate(lm, prompt, 3 * CONFIG.blockSize(), 1f, new Random(9));
    assertThat(a).containsExactly(b).hasSize(1 + 3 * CONFIG.blockSize());
    assertThat(Arrays.stream(a).allMatch(id -> id >= 0 && id < CONFIG.vocabSize())).isTrue();
    // An untrained model at temperature 1 is close to uniform: more than one distinct token.
    assertThat(Arrays.stream(a).distinct().count()).isGreaterThan(1);
  }

  @Test
  void badArgumentsAreRejected() {
    assertThatThrownBy(() -> Sampler.generate(lm, new int[0], 1, 0f, new Random()))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Sampler.generate(lm, new int[] {1}, 1, -1f, new Random()))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
