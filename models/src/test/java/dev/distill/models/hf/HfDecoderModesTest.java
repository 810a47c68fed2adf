package dev.distill.models.hf;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import dev.distill.models.gpt.KvCache;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.nn.LinearMode;
import dev.distill.models.tokenizer.Tokenizers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every {@link LinearMode} applies to the Llama family's block linear layers: a training forward
 * and backward gives finite gradients to every parameter, and cached decoding equals the full
 * forward.
 */
class HfDecoderModesTest {

  static final Path LLAMA = Path.of("src/test/resources/hf/llama");

  static HfDecoder block(LinearMode mode) throws IOException {
    HfConfig config =
        HfConfig.parse(Files.readString(LLAMA.resolve("config.json"))).resized(1, 32, 2, 1, 48);
    Map<String, Integer> ranks = new LinkedHashMap<>();
    if (mode == LinearMode.LOW_RANK) {
      new HfDecoder(config).linearShapes().forEach((name, shape) -> ranks.put(name, 4));
    }
    return new HfDecoder(config, mode, ranks);
  }

  @ParameterizedTest
  @EnumSource(LinearMode.class)
  void everyModeTrainsWithFiniteGradients(LinearMode mode) throws IOException {
    try (LanguageModel lm = LanguageModel.create(block(mode), Tokenizers.load(LLAMA), 3);
        NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDArray tokens = m.create(new int[] {1, 2, 3, 4, 5, 6, 7, 8}, new Shape(2, 4));
      try (GradientCollector gc = lm.model().getNDManager().getEngine().newGradientCollector()) {
        NDArray logits =
            lm.block().forward(new ParameterStore(m, false), new NDList(tokens), true).head();
        gc.backward(logits.square().mean());
      }
      for (var p : lm.block().getParameters()) {
        NDArray g = p.getValue().getArray().getGradient();
        float[] values = g.toFloatArray();
        for (float v : values) {
          assertThat(Float.isFinite(v)).as(mode + " " + p.getKey()).isTrue();
        }
      }
    }
  }

  @ParameterizedTest
  @EnumSource(LinearMode.class)
  void cachedDecodingEqualsTheFullForwardInEveryMode(LinearMode mode) throws IOException {
    int[][] prompt = {{11, 12, 13, 14, 15, 16}};
    try (LanguageModel lm = LanguageModel.create(block(mode), Tokenizers.load(LLAMA), 5);
        NDManager m = NDManager.newBaseManager("PyTorch");
        KvCache cache = lm.newKvCache()) {
      float[] full = lm.logits(m, prompt).toFloatArray();
      int v = lm.vocabSize();
      // prefill 4 positions, then one at a time
      float[] first = cache.logits(m, new int[][] {{11, 12, 13, 14}}).toFloatArray();
      float[] fifth = cache.logits(m, new int[][] {{15}}).toFloatArray();
      float[] sixth = cache.logits(m, new int[][] {{16}}).toFloatArray();
      for (int j = 0; j < v; j++) {
        assertThat((double) first[3 * v + j]).isCloseTo(full[3 * v + j], within(mode));
        assertThat((double) fifth[j]).isCloseTo(full[4 * v + j], within(mode));
        assertThat((double) sixth[j]).isCloseTo(full[5 * v + j], within(mode));
      }
    }
  }

  /**
   * 1e-4 in every mode, as KvCacheTest asks of our GPT; for the 8-bit-activation modes this holds
   * for this model and prompt, not in general (a rounding boundary of the activation quantiser can
   * put the two paths one quantum apart).
   */
  static org.assertj.core.data.Offset<Double> within(LinearMode mode) {
    return org.assertj.core.data.Offset.offset(1e-4);
  }
}
