package dev.distill.models.generation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.distill.models.generation.Sampler.Decoding;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.TinyModel;
import dev.distill.models.tokenizer.CharTokenizer;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class SamplerTest {

  private static final CharTokenizer TOKENIZER = CharTokenizer.fromCorpus("abcdefgh");
  private static final GptConfig CONFIG = new GptConfig(TOKENIZER.vocabSize(), 8, 1, 2, 16, 0f);
  @RegisterExtension static final TinyModel MODEL = new TinyModel(CONFIG, TOKENIZER, 3);

  @Test
  void greedySamplingIsDeterministicAndIgnoresTheRng() {
    int[] prompt = TOKENIZER.encode("abc");
    int[] a = Sampler.generate(MODEL.lm(), prompt, 20, 0f, new Random(1));
    int[] b = Sampler.generate(MODEL.lm(), prompt, 20, 0f, new Random(2));
    assertThat(a).hasSize(23).startsWith(prompt).containsExactly(b);
  }

  @Test
  void greedyPicksTheArgmaxOfTheLastPosition() {
    int[] prompt = TOKENIZER.encode("hg");
    int[] out = Sampler.generate(MODEL.lm(), prompt, 1, 0f, new Random(0));
    float[] last;
    try (var manager = ai.djl.ndarray.NDManager.newBaseManager()) {
      last = MODEL.lm().logits(manager, new int[][] {prompt}).get("0, -1, :").toFloatArray();
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
    int[] a = Sampler.generate(MODEL.lm(), prompt, 3 * CONFIG.blockSize(), 1f, new Random(9));
    int[] b = Sampler.generate(MODEL.lm(), prompt, 3 * CONFIG.blockSize(), 1f, new Random(9));
    assertThat(a).containsExactly(b).hasSize(1 + 3 * CONFIG.blockSize());
    assertThat(Arrays.stream(a).allMatch(id -> id >= 0 && id < CONFIG.vocabSize())).isTrue();
    // An untrained model at temperature 1 is close to uniform: more than one distinct token.
    assertThat(Arrays.stream(a).distinct().count()).isGreaterThan(1);
  }

  @Test
  void cachedAndFullContextDecodingDrawTheSameTokensForTheSameSeed() {
    int[] prompt = TOKENIZER.encode("cab");
    for (float temperature : new float[] {0f, 0.7f, 1f}) {
      for (long seed : new long[] {1, 2, 3}) {
        int[] full =
            Sampler.generate(
                MODEL.lm(), prompt, 12, temperature, new Random(seed), Decoding.FULL_CONTEXT);
        int[] cached =
            Sampler.generate(
                MODEL.lm(), prompt, 12, temperature, new Random(seed), Decoding.KV_CACHE);
        assertThat(cached).as("T=%s seed %d", temperature, seed).containsExactly(full);
      }
    }
    // the default is the cache
    assertThat(Sampler.generate(MODEL.lm(), prompt, 12, 1f, new Random(4)))
        .containsExactly(
            Sampler.generate(MODEL.lm(), prompt, 12, 1f, new Random(4), Decoding.FULL_CONTEXT));
  }

  @Test
  void cachedDecodingPastTheBlockSizeCropsTheContextAsTheFullForwardDoes() {
    // a prompt longer than the block, then three blocks of new tokens
    int[] prompt = TOKENIZER.encode("abcdefghabcdefghabcd");
    assertThat(prompt.length).isGreaterThan(CONFIG.blockSize());
    int n = 3 * CONFIG.blockSize();
    for (long seed : new long[] {5, 6}) {
      int[] full =
          Sampler.generate(MODEL.lm(), prompt, n, 1f, new Random(seed), Decoding.FULL_CONTEXT);
      int[] cached =
          Sampler.generate(MODEL.lm(), prompt, n, 1f, new Random(seed), Decoding.KV_CACHE);
      assertThat(cached).hasSize(prompt.length + n).startsWith(prompt).containsExactly(full);
    }
    int[] greedy = Sampler.generate(MODEL.lm(), TOKENIZER.encode("a"), n, 0f, new Random(0));
    assertThat(greedy)
        .containsExactly(
            Sampler.generate(
                MODEL.lm(), TOKENIZER.encode("a"), n, 0f, new Random(0), Decoding.FULL_CONTEXT));
  }

  @Test
  void zeroNewTokensReturnsThePrompt() {
    int[] prompt = TOKENIZER.encode("abc");
    for (Decoding d : Decoding.values()) {
      assertThat(Sampler.generate(MODEL.lm(), prompt, 0, 1f, new Random(0), d))
          .containsExactly(prompt);
    }
  }

  @Test
  void badArgumentsAreRejected() {
    assertThatThrownBy(() -> Sampler.generate(MODEL.lm(), new int[0], 1, 0f, new Random()))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Sampler.generate(MODEL.lm(), new int[] {1}, 1, -1f, new Random()))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
