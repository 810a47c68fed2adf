package dev.distill.models.gpt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import dev.distill.models.checkpoint.CheckpointException;
import dev.distill.models.nn.LinearMode;
import dev.distill.models.tokenizer.CharTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PackedExportTest {
  private static final CharTokenizer TOK = CharTokenizer.fromCorpus("abcdefghij klmnop.,");
  private static final GptConfig CONFIG = new GptConfig(TOK.vocabSize(), 8, 2, 2, 16, 0f);
  private static final int[][] TOKENS = {{1, 2, 3, 4, 5, 6, 7, 8}, {9, 8, 7, 6, 5, 4, 3, 2}};

  @TempDir Path tmp;

  /** Scalars in the block linear weights: per layer 12 C^2. */
  private static long linearWeights() {
    return 12L * 16 * 16 * CONFIG.nLayer();
  }

  private static long denseBytes() {
    return 4 * (CONFIG.parameterCount() - linearWeights());
  }

  private static float[] logits(LanguageModel lm) {
    try (NDManager m = NDManager.newBaseManager()) {
      return lm.logits(m, TOKENS).toFloatArray();
    }
  }

  @Test
  void ternaryExportPacksTwoBitsPerWeightAndReloadsToTheSameLogits() throws IOException {
    try (LanguageModel lm = LanguageModel.create(CONFIG, TOK, 1, LinearMode.TERNARY)) {
      PackedExport.Summary s = PackedExport.write(lm, tmp.resolve("t"));
      // header 5 bytes; per block linear matrix a float scale and ceil(n / 4) bytes of codes
      long expected = 5 + denseBytes() + 8 * 4 + linearWeights() / 4;
      assertThat(Files.size(tmp.resolve("t").resolve(PackedExport.PACKED))).isEqualTo(expected);
      assertThat(s.bitsPerWeight()).isEqualTo(2.0);
      assertThat(s.layers()).hasSize(8);
      assertThat(s.layers()).allSatisfy(l -> assertThat(l.sparsity()).isBetween(0.2, 0.5));
      try (LanguageModel back = PackedExport.read(tmp.resolve("t"))) {
        assertThat(back.mode()).isEqualTo(LinearMode.ACT8);
        assertThat(logits(back)).containsExactly(logits(lm), within(1e-4f));
      }
    }
  }

  @Test
  void selfCompressedExportRemovesZeroBitChannelsAndReloadsToTheSameLogits() throws IOException {
    try (LanguageModel lm = LanguageModel.create(CONFIG, TOK, 2, LinearMode.SELF_COMPRESSING)) {
      // drive 3 output channels of h0.fc to 0 bits and the rest of every layer to 4 bits
      int zeroed = 0;
      for (Pair<String, Parameter> p : lm.block().getParameters()) {
        NDArray a = p.getValue().getArray();
        if (p.getKey().endsWith(".bits")) {
          float[] b = new float[(int) a.size()];
          java.util.Arrays.fill(b, 4f);
          if (p.getKey().equals("h0.fc.bits")) {
            b[0] = b[5] = b[9] = 0f;
            zeroed = 3;
          }
          a.set(java.nio.FloatBuffer.wrap(b));
        }
        if (p.getKey().endsWith(".exp")) {
          float[] e = new float[(int) a.size()];
          java.util.Arrays.fill(e, -5f);
          a.set(java.nio.FloatBuffer.wrap(e));
        }
      }
      PackedExport.Summary s = PackedExport.write(lm, tmp.resolve("sc"));
      PackedExport.LayerStats fc0 =
          s.layers().stream().filter(l -> l.name().equals("h0.fc")).findFirst().orElseThrow();
      assertThat(fc0.removedChannels()).isEqualTo(zeroed);
      assertThat(fc0.sparsity()).isGreaterThanOrEqualTo(3.0 / 64);
      // 4 bits give integers in [-8, 7]: at most 4 bits per stored weight
      assertThat(s.bitsPerWeight()).isGreaterThan(1.0).isLessThanOrEqualTo(4.0);
      assertThat(fc0.payloadBits()).isLessThanOrEqualTo(4L * 16 * (64 - 3));
      try (LanguageModel back = PackedExport.read(tmp.resolve("sc"))) {
        assertThat(back.mode()).isEqualTo(LinearMode.DENSE);
        assertThat(logits(back)).containsExactly(logits(lm), within(1e-4f));
      }
      long dense = 5 + 4 * CONFIG.parameterCount();
      assertThat(Files.size(tmp.resolve("sc").resolve(PackedExport.PACKED))).isLessThan(dense);
    }
  }

  @Test
  void aDamagedExportIsRefused() throws IOException {
    try (LanguageModel lm = LanguageModel.create(CONFIG, TOK, 1, LinearMode.TERNARY)) {
      PackedExport.write(lm, tmp.resolve("t"));
    }
    Path packed = tmp.resolve("t").resolve(PackedExport.PACKED);
    byte[] b = Files.readAllBytes(packed);
    b[b.length - 1] ^= 1;
    Files.write(packed, b);
    assertThatThrownBy(() -> PackedExport.read(tmp.resolve("t")))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("sha256");
  }

  @Test
  void denseModelsAreUnchangedByTheModeRefactoring() {
    // a dense model and a self-compressing one share the dense parameters of the same seed
    try (LanguageModel dense = LanguageModel.create(CONFIG, TOK, 7);
        LanguageModel sc = LanguageModel.create(CONFIG, TOK, 7, LinearMode.SELF_COMPRESSING)) {
      assertThat(sc.block().getParameters().size())
          .isEqualTo(dense.block().getParameters().size() + 2 * 4 * CONFIG.nLayer());
      assertThat(sc.block().getParameters().get("wte").getArray().toFloatArray())
          .containsExactly(dense.block().getParameters().get("wte").getArray().toFloatArray());
    }
  }
}
