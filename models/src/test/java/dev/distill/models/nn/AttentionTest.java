package dev.distill.models.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import dev.distill.models.gpt.KvCache;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.hf.HfConfig;
import dev.distill.models.hf.HfDecoder;
import dev.distill.models.tokenizer.Tokenizers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The fused attention path with a batch of two rows: grouped-query heads (2 query heads per
 * key/value head), RoPE, the keys and values cached in one array per layer, and a Llama model's q,
 * k and v run as one product in the modes that fuse them (DENSE, ACT8) and as three in the others:
 * a prefill then single positions give the full forward's logits for each row.
 */
class AttentionTest {

  static final Path LLAMA = Path.of("src/test/resources/hf/llama");

  @ParameterizedTest
  @EnumSource(
      value = LinearMode.class,
      names = {"DENSE", "ACT8", "TERNARY"})
  void batchedGroupedQueryCachedDecodingEqualsTheFullForward(LinearMode mode) throws IOException {
    // the fixture's 4 query heads share 2 key/value heads; rows of different tokens
    HfConfig config = HfConfig.parse(Files.readString(LLAMA.resolve("config.json")));
    assertThat(config.nHead() / config.nKvHead()).isEqualTo(2);
    int[][] tokens = {{11, 12, 13, 14, 15}, {40, 7, 300, 2, 90}};
    try (LanguageModel lm =
            LanguageModel.create(new HfDecoder(config, mode, Map.of()), Tokenizers.load(LLAMA), 7);
        NDManager m = NDManager.newBaseManager("PyTorch");
        KvCache cache = lm.newKvCache()) {
      int v = lm.vocabSize();
      float[] full = lm.logits(m, tokens).toFloatArray(); // (2, 5, V)
      float[] prefill = cache.logits(m, new int[][] {{11, 12, 13}, {40, 7, 300}}).toFloatArray();
      float[] fourth = cache.logits(m, new int[][] {{14}, {2}}).toFloatArray();
      float[] fifth = cache.logits(m, new int[][] {{15}, {90}}).toFloatArray();
      // 8-bit activations may round one quantum apart between the two paths (see Sampler)
      double tol = mode == LinearMode.DENSE ? 1e-4 : 1e-3;
      for (int row = 0; row < 2; row++) {
        for (int j = 0; j < v; j++) {
          assertThat((double) prefill[(row * 3 + 2) * v + j])
              .isCloseTo(full[(row * 5 + 2) * v + j], within(tol));
          assertThat((double) fourth[row * v + j])
              .isCloseTo(full[(row * 5 + 3) * v + j], within(tol));
          assertThat((double) fifth[row * v + j])
              .isCloseTo(full[(row * 5 + 4) * v + j], within(tol));
        }
      }
      // keys and values of both rows, 2 key/value heads each, five positions
      assertThat(cache.keysValues(0).getShape().getShape())
          .containsExactly(2, 2L * config.nKvHead(), 5, config.headDim());
    }
  }
}
