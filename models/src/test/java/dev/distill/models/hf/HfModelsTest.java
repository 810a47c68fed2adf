package dev.distill.models.hf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.distill.models.gpt.Gpt;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.KvCache;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.nn.LinearMode;
import dev.distill.models.tokenizer.CharTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Parity with the plain-PyTorch forwards that follow transformers' modeling code (fixtures made by
 * models/src/test/python/make_hf_checkpoints.py): GPT-2 (fp32, tied), Llama (bf16, GQA, untied, two
 * shards) and Qwen2 (fp16, q/k/v biases, tied, embedding padded past the tokenizer).
 */
class HfModelsTest {

  static final Path FIXTURES = Path.of("src/test/resources/hf");
  static final double TOLERANCE = 1e-4;

  static int[][] ids(SafeTensors.Tensor t) {
    int rows = (int) t.shape()[0];
    int cols = (int) t.shape()[1];
    int[][] out = new int[rows][cols];
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        out[i][j] = Math.round(t.values()[i * cols + j]);
      }
    }
    return out;
  }

  /** Max |ours - reference| over the decodable columns [0, v) of the reference (B, T, V). */
  static double maxAbsDiff(float[] ours, int v, SafeTensors.Tensor ref) {
    int vRef = (int) ref.shape()[2];
    int positions = ours.length / v;
    double max = 0;
    for (int p = 0; p < positions; p++) {
      for (int j = 0; j < v; j++) {
        max = Math.max(max, Math.abs(ours[p * v + j] - ref.values()[p * vRef + j]));
      }
    }
    return max;
  }

  @ParameterizedTest
  @ValueSource(strings = {"gpt2", "llama", "qwen2"})
  void forwardEqualsTheTransformersReference(String family) throws IOException {
    Map<String, SafeTensors.Tensor> ref =
        SafeTensors.read(FIXTURES.resolve(family).resolve("reference.safetensors"));
    try (LanguageModel lm = HfModels.load(FIXTURES.resolve(family));
        NDManager m = NDManager.newBaseManager("PyTorch")) {
      float[] logits = lm.logits(m, ids(ref.get("input_ids"))).toFloatArray();
      double diff = maxAbsDiff(logits, lm.vocabSize(), ref.get("logits"));
      System.out.printf("%s: max |logit - reference| = %.3g%n", family, diff);
      assertThat(diff).isLessThan(TOLERANCE);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"gpt2", "llama", "qwen2"})
  void cachedGreedyDecodingEqualsTheReferenceContinuation(String family) throws IOException {
    Map<String, SafeTensors.Tensor> ref =
        SafeTensors.read(FIXTURES.resolve(family).resolve("reference.safetensors"));
    int[][] prompt = ids(ref.get("input_ids"));
    int[][] expected = ids(ref.get("greedy_ids"));
    try (LanguageModel lm = HfModels.load(FIXTURES.resolve(family));
        NDManager m = NDManager.newBaseManager("PyTorch");
        KvCache cache = lm.newKvCache()) {
      int b = prompt.length;
      int[][] next = prompt;
      int[][] got = new int[b][expected[0].length];
      for (int step = 0; step < expected[0].length; step++) {
        NDArray logits = cache.logits(m, next);
        long t = logits.getShape().get(1);
        int[] argmax =
            logits
                .get(":, " + (t - 1) + ", :")
                .argMax(-1)
                .toType(ai.djl.ndarray.types.DataType.INT32, false)
                .toIntArray();
        next = new int[b][1];
        for (int i = 0; i < b; i++) {
          assertThat(argmax[i]).isLessThan(lm.tokenizer().vocabSize());
          got[i][step] = argmax[i];
          next[i][0] = argmax[i];
        }
      }
      assertThat(got).isDeepEqualTo(expected);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"gpt2", "llama", "qwen2"})
  void exportThenLoadGivesTheSameLogits(String family, @TempDir Path tmp) throws IOException {
    Map<String, SafeTensors.Tensor> ref =
        SafeTensors.read(FIXTURES.resolve(family).resolve("reference.safetensors"));
    int[][] prompt = ids(ref.get("input_ids"));
    Path out = tmp.resolve("export");
    try (LanguageModel lm = HfModels.load(FIXTURES.resolve(family));
        NDManager m = NDManager.newBaseManager("PyTorch")) {
      float[] before = lm.logits(m, prompt).toFloatArray();
      HfModels.export(lm, out);
      assertThat(out.resolve("config.json")).exists();
      assertThat(out.resolve("model.safetensors")).exists();
      assertThat(out.resolve("generation_config.json")).exists();
      assertThat(out.resolve("tokenizer.json")).exists();
      try (LanguageModel back = HfModels.load(out)) {
        float[] after = back.logits(m, prompt).toFloatArray();
        assertThat(back.tokenizer().sha256()).isEqualTo(lm.tokenizer().sha256());
        for (int i = 0; i < before.length; i++) {
          assertThat((double) Math.abs(after[i] - before[i])).isLessThan(1e-5);
        }
      }
    }
  }

  @Test
  void ourGptExportsAsGpt2WithTheSameLogits(@TempDir Path tmp) throws IOException {
    CharTokenizer tok = CharTokenizer.fromCorpus("abcdefgh ij\n");
    int[][] prompt = {{0, 1, 2, 3, 4, 5}, {6, 7, 8, 9, 10, 11}};
    try (LanguageModel gpt = LanguageModel.create(new GptConfig(12, 16, 2, 2, 16, 0f), tok, 7);
        NDManager m = NDManager.newBaseManager("PyTorch")) {
      float[] before = gpt.logits(m, prompt).toFloatArray();
      Path out = tmp.resolve("gpt2");
      HfModels.export(gpt, out);
      assertThat(Files.readString(out.resolve("config.json"))).contains("GPT2LMHeadModel");
      HfConfig config = HfConfig.parse(Files.readString(out.resolve("config.json")));
      assertThat(config.activation()).isEqualTo("gelu");
      try (LanguageModel back = HfModels.load(out)) {
        assertThat(back.block()).isInstanceOf(HfDecoder.class);
        // the char vocabulary as a Hugging Face tokenizer (Rust tokenizers): same ids, same text
        String text = "ab cd\nefgh ij\n\nhi";
        assertThat(back.tokenizer().encode(text)).isEqualTo(tok.encode(text));
        assertThat(back.tokenizer().decode(tok.encode(text))).isEqualTo(text);
        float[] after = back.logits(m, prompt).toFloatArray();
        for (int i = 0; i < before.length; i++) {
          assertThat((double) Math.abs(after[i] - before[i])).isLessThan(1e-5);
        }
      }
    }
  }

  @Test
  void aTernaryModelIsRefusedForExport(@TempDir Path tmp) {
    CharTokenizer tok = CharTokenizer.fromCorpus("abcd");
    try (LanguageModel gpt =
        LanguageModel.create(new GptConfig(4, 8, 1, 2, 8, 0f), tok, 1, LinearMode.TERNARY)) {
      assertThatThrownBy(() -> HfModels.export(gpt, tmp.resolve("x")))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("TERNARY");
    }
  }

  @Test
  void anUnknownArchitectureIsNamed() {
    assertThatThrownBy(() -> HfConfig.parse("{\"architectures\":[\"BertModel\"]}"))
        .hasMessageContaining("BertModel");
  }

  @Test
  void anUnknownConfigKeyIsNamed() throws IOException {
    String json = Files.readString(FIXTURES.resolve("llama/config.json"));
    String withKey = json.replaceFirst("\\{", "{\"rope_magic\": 3,");
    assertThatThrownBy(() -> HfConfig.parse(withKey)).hasMessageContaining("rope_magic");
  }

  @Test
  void ropeScalingIsRefused() throws IOException {
    String json = Files.readString(FIXTURES.resolve("llama/config.json"));
    String scaled =
        json.replace(
            "\"rope_scaling\": null", "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}");
    assertThatThrownBy(() -> HfConfig.parse(scaled)).hasMessageContaining("rope_scaling");
  }

  @Test
  void parameterCountMatchesTheLoadedTensors() throws IOException {
    for (String family : new String[] {"gpt2", "llama", "qwen2"}) {
      try (LanguageModel lm = HfModels.load(FIXTURES.resolve(family))) {
        long n = 0;
        for (var p : lm.block().getParameters()) {
          n += p.getValue().getArray().size();
        }
        assertThat(lm.config().parameterCount()).as(family).isEqualTo(n);
      }
    }
  }

  @Test
  void theLoadedModelIsTheConfiguredFamily() throws IOException {
    try (LanguageModel lm = HfModels.load(FIXTURES.resolve("qwen2"))) {
      HfConfig c = (HfConfig) lm.config();
      assertThat(c.family()).isEqualTo(HfConfig.Family.LLAMA);
      assertThat(c.qkvBias()).isTrue();
      assertThat(c.tiedEmbeddings()).isTrue();
      assertThat(c.vocabSize()).isEqualTo(704);
      assertThat(lm.vocabSize()).isEqualTo(660);
      assertThat(lm.block()).isNotInstanceOf(Gpt.class);
    }
  }
}
