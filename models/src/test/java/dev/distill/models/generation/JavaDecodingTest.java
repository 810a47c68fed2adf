package dev.distill.models.generation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.distill.models.generation.CachedDecoder.Backend;
import dev.distill.models.gpt.Gpt;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.hf.HfConfig;
import dev.distill.models.hf.HfDecoder;
import dev.distill.models.hf.HfModels;
import dev.distill.models.nn.Activations;
import dev.distill.models.nn.LinearMode;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.models.tokenizer.Tokenizers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Java decoding path ({@link Backend#JAVA}: {@code CpuDecoder}) against the engine's cached
 * forward ({@link Backend#ENGINE}) on small random models of every covered family and mode, and its
 * kernels against their definitions.
 */
class JavaDecodingTest {

  private static final Path HF = Path.of("src/test/resources/hf");
  private static final CharTokenizer CHARS =
      CharTokenizer.fromCorpus("abcdefghijklmnopqrstuvwxyz .,;!?");

  static Stream<Arguments> models() {
    return Stream.of(
        Arguments.of("gpt", LinearMode.DENSE),
        Arguments.of("gpt", LinearMode.LOW_RANK),
        Arguments.of("gpt", LinearMode.SELF_COMPRESSING),
        Arguments.of("llama", LinearMode.DENSE),
        Arguments.of("llama", LinearMode.LOW_RANK),
        Arguments.of("llama", LinearMode.SELF_COMPRESSING),
        Arguments.of("qwen2", LinearMode.DENSE),
        Arguments.of("gpt2", LinearMode.DENSE));
  }

  /** A small random model: our GPT (context 16) or a resized HF fixture (context 64). */
  static LanguageModel model(String family, LinearMode mode, long seed) throws IOException {
    if (family.equals("gpt")) {
      GptConfig config = new GptConfig(CHARS.vocabSize(), 16, 2, 2, 32, 0f);
      if (mode == LinearMode.LOW_RANK) {
        Map<String, Integer> ranks = new LinkedHashMap<>();
        Gpt.linearShapes(config).forEach((n, s) -> ranks.put(n, 8));
        return LanguageModel.create(config, CHARS, seed, ranks);
      }
      return LanguageModel.create(config, CHARS, seed, mode);
    }
    Path dir = HF.resolve(family);
    if (mode == LinearMode.DENSE) {
      return HfModels.load(dir); // the fixture's own weights, untied head, biases, padding
    }
    HfConfig config =
        HfConfig.parse(Files.readString(dir.resolve("config.json"))).resized(2, 32, 4, 2, 48);
    Map<String, Integer> ranks = new LinkedHashMap<>();
    if (mode == LinearMode.LOW_RANK) {
      new HfDecoder(config).linearShapes().forEach((n, s) -> ranks.put(n, 8));
    }
    return LanguageModel.create(new HfDecoder(config, mode, ranks), Tokenizers.load(dir), seed);
  }

  private static int[][] append(int[][] rows, Random rng, int vocab) {
    int[][] out = new int[rows.length][];
    for (int i = 0; i < rows.length; i++) {
      out[i] = Arrays.copyOf(rows[i], rows[i].length + 1);
      out[i][rows[i].length] = rng.nextInt(vocab);
    }
    return out;
  }

  private static double maxDiff(float[][] a, float[][] b) {
    assertThat(a.length).isEqualTo(b.length);
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      assertThat(a[i]).hasSameSizeAs(b[i]);
      for (int j = 0; j < a[i].length; j++) {
        max = Math.max(max, Math.abs(a[i][j] - b[i][j]));
      }
    }
    return max;
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("models")
  void javaStepsGiveTheEngineLogitsThroughDroppedRowsAndACropPastTheContext(
      String family, LinearMode mode) throws IOException {
    try (LanguageModel lm = model(family, mode, 7);
        CachedDecoder java = new CachedDecoder(lm, Backend.JAVA);
        CachedDecoder engine = new CachedDecoder(lm, Backend.ENGINE)) {
      int v = lm.vocabSize();
      int block = lm.config().blockSize();
      Random rng = new Random(3);
      int[][] rows = new int[3][];
      for (int i = 0; i < rows.length; i++) {
        rows[i] = rng.ints(block - 8, 0, v).toArray(); // 20 steps cross blockSize
      }
      double worst = 0;
      for (int step = 0; step < 20; step++) {
        if (step == 5) {
          rows = new int[][] {rows[0], rows[2]}; // row 1 finished
        }
        float[][] a = step % 4 == 3 ? java.nextLogprobs(rows) : java.nextLogits(rows);
        float[][] b = step % 4 == 3 ? engine.nextLogprobs(rows) : engine.nextLogits(rows);
        worst = Math.max(worst, maxDiff(a, b));
        rows = append(rows, rng, v);
      }
      assertThat(worst).as("max |logit diff|, java vs engine").isLessThanOrEqualTo(1e-4);
      // prefill + steps to the full context, then a re-encoding per step past it
      assertThat(java.javaSteps()).isEqualTo(8);
      assertThat(java.prefills()).isEqualTo(engine.prefills()).isEqualTo(1 + 11);
      assertThat(engine.javaSteps()).isZero();
    }
  }

  @Test
  void greedyTokensAreTheEnginesOnAModelWithoutNearTies() throws IOException {
    try (LanguageModel lm = model("llama", LinearMode.DENSE, 0)) {
      int[] prompt = {5, 17, 42, 99, 3};
      int[] a = greedy(lm, prompt, 40, Backend.ENGINE);
      int[] b = greedy(lm, prompt, 40, Backend.JAVA);
      assertThat(b).isEqualTo(a);
    }
  }

  /** Greedy tokens; asserts that every step's best logit leads the next by more than 1e-3. */
  private static int[] greedy(LanguageModel lm, int[] prompt, int n, Backend backend) {
    int[] seq = prompt.clone();
    try (CachedDecoder d = new CachedDecoder(lm, backend)) {
      for (int i = 0; i < n; i++) {
        float[] logits = d.nextLogits(seq);
        int best = Sampler.argmax(logits);
        float second = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < logits.length; j++) {
          if (j != best) {
            second = Math.max(second, logits[j]);
          }
        }
        assertThat(logits[best] - second).as("margin at step %d", i).isGreaterThan(1e-3f);
        seq = Arrays.copyOf(seq, seq.length + 1);
        seq[seq.length - 1] = best;
      }
      if (backend == Backend.JAVA) {
        assertThat(d.javaSteps()).isGreaterThan(0);
      }
    }
    return seq;
  }

  @Test
  void modesThatQuantiseActivationsFallBackToTheEngineAndCannotBeForcedToJava() throws IOException {
    for (LinearMode mode : new LinearMode[] {LinearMode.TERNARY, LinearMode.ACT8}) {
      try (LanguageModel lm = model("gpt", mode, 1)) {
        try (CachedDecoder auto = new CachedDecoder(lm, Backend.AUTO)) {
          int[] seq = {1, 2, 3};
          auto.nextLogits(seq);
          auto.nextLogits(new int[] {1, 2, 3, 4});
          assertThat(auto.javaSteps()).isZero();
          assertThat(auto.prefills()).isEqualTo(1);
        }
        assertThatThrownBy(() -> new CachedDecoder(lm, Backend.JAVA))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("distill.decode=java")
            .hasMessageContaining(mode.name());
      }
    }
  }

  @Test
  void autoDecodesSmallStepsInJavaAndBatchesPastTheLimitOnTheEngine() throws IOException {
    // the demo teacher's shape: 794,752 multiply-adds per position (linear layers and head)
    GptConfig config = new GptConfig(CHARS.vocabSize(), 64, 4, 4, 128, 0f);
    int past = Math.toIntExact(CachedDecoder.JAVA_MAX_STEP_MACS / 794_752 + 1);
    try (LanguageModel lm = LanguageModel.create(config, CHARS, 2)) {
      for (int rows : new int[] {1, past}) {
        int[][] seqs = new int[rows][];
        for (int i = 0; i < rows; i++) {
          seqs[i] = new int[] {i % 10, 3};
        }
        try (CachedDecoder auto = new CachedDecoder(lm, Backend.AUTO)) {
          auto.nextLogits(seqs);
          auto.nextLogits(append(seqs, new Random(1), 10));
          assertThat(auto.javaSteps()).as("rows " + rows).isEqualTo(rows == 1 ? 1 : 0);
        }
      }
    }
  }

  @Test
  void aPrefillBeforeJavaStepsRestoresTheCallersEngineThreadCount() throws IOException {
    int before = ai.djl.pytorch.jni.JniUtils.getNumThreads();
    ai.djl.pytorch.jni.JniUtils.setNumThreads(2);
    try (LanguageModel lm = model("gpt", LinearMode.DENSE, 1);
        CachedDecoder d = new CachedDecoder(lm, Backend.JAVA)) {
      d.nextLogits(new int[] {1, 2, 3, 4, 5, 6, 7, 8});
      assertThat(ai.djl.pytorch.jni.JniUtils.getNumThreads()).isEqualTo(2);
      d.nextLogits(new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
      assertThat(d.javaSteps()).isEqualTo(1);
    } finally {
      ai.djl.pytorch.jni.JniUtils.setNumThreads(before);
    }
  }

  @Test
  void theSystemPropertyChoosesTheBackendAndRejectsOtherValues() throws IOException {
    String before = System.getProperty(CachedDecoder.PROPERTY);
    try (LanguageModel lm = model("gpt", LinearMode.DENSE, 1)) {
      System.setProperty(CachedDecoder.PROPERTY, "engine");
      try (CachedDecoder d = new CachedDecoder(lm)) {
        d.nextLogits(new int[] {1, 2});
        d.nextLogits(new int[] {1, 2, 3});
        assertThat(d.javaSteps()).isZero();
      }
      System.setProperty(CachedDecoder.PROPERTY, "JAVA");
      try (CachedDecoder d = new CachedDecoder(lm)) {
        d.nextLogits(new int[] {1, 2});
        d.nextLogits(new int[] {1, 2, 3});
        assertThat(d.javaSteps()).isEqualTo(1);
        // ids are checked on the Java path too
        assertThatThrownBy(() -> d.nextLogits(new int[] {1, 2, 3, 99}))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("token id 99");
      }
      System.setProperty(CachedDecoder.PROPERTY, "gpu");
      assertThatThrownBy(() -> new CachedDecoder(lm))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("distill.decode must be engine, java or auto, got 'gpu'");
    } finally {
      if (before == null) {
        System.clearProperty(CachedDecoder.PROPERTY);
      } else {
        System.setProperty(CachedDecoder.PROPERTY, before);
      }
    }
  }

  /** erf by its Maclaurin series in double (exact to about 1e-9 for |x| <= 4). */
  private static double erfSeries(double x) {
    double sum = 0;
    double term = x; // (-1)^n x^(2n+1) / n!
    for (int n = 0; n < 200; n++) {
      sum += term / (2 * n + 1);
      term *= -x * x / (n + 1);
    }
    return 2 / Math.sqrt(Math.PI) * sum;
  }

  @Test
  void erfIsWithinItsStatedBoundOfTheSeries() {
    double worst = 0;
    for (double x = -4; x <= 4; x += 1e-3) {
      worst = Math.max(worst, Math.abs(CpuKernels.erf(x) - erfSeries(x)));
    }
    assertThat(worst).isLessThanOrEqualTo(1.5e-7).isGreaterThan(0);
    assertThat(CpuKernels.erf(6)).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1.5e-7));
    assertThat(CpuKernels.erf(-6)).isCloseTo(-1.0, org.assertj.core.data.Offset.offset(1.5e-7));
  }

  @Test
  void geluMatchesTheEnginesExactGelu() {
    int n = 16001;
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = -8f + i * 1e-3f;
    }
    float[] expected;
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDArray a = m.create(x);
      expected = Activations.gelu(a).toFloatArray();
    }
    float[] y = x.clone();
    CpuKernels.gelu(y, n);
    double worst = 0;
    for (int i = 0; i < n; i++) {
      worst = Math.max(worst, Math.abs(y[i] - expected[i]));
    }
    // 0.5 |x| 1.5e-7 from erf plus float rounding of values up to 8
    assertThat(worst).isLessThanOrEqualTo(1.5e-6);
  }

  @Test
  void linearMatchesTheDefinitionForEveryRowAndARemainderInput() {
    Random rng = new Random(5);
    int rows = 3;
    int in = 7; // not a multiple of 4
    int out = 5;
    float[][] x = new float[rows][in];
    float[][] w = new float[out][in];
    float[] b = new float[out];
    for (float[] a : x) {
      fill(a, rng);
    }
    for (float[] a : w) {
      fill(a, rng);
    }
    fill(b, rng);
    float[][] wt = new float[in][out];
    for (int o = 0; o < out; o++) {
      for (int i = 0; i < in; i++) {
        wt[i][o] = w[o][i];
      }
    }
    float[][] y = new float[rows][out + 2]; // wider than out: the rest is left alone
    y[1][out] = 42f;
    CpuKernels.linear(x, rows, wt, b, y);
    for (int r = 0; r < rows; r++) {
      for (int o = 0; o < out; o++) {
        double e = b[o];
        for (int i = 0; i < in; i++) {
          e += (double) x[r][i] * w[o][i];
        }
        assertThat((double) y[r][o]).isCloseTo(e, org.assertj.core.data.Offset.offset(1e-5));
      }
    }
    assertThat(y[1][out]).isEqualTo(42f);
  }

  private static void fill(float[] a, Random rng) {
    for (int i = 0; i < a.length; i++) {
      a[i] = (float) rng.nextGaussian();
    }
  }
}
