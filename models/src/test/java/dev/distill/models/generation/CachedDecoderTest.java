package dev.distill.models.generation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.TinyModel;
import dev.distill.models.tokenizer.CharTokenizer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class CachedDecoderTest {

  private static final CharTokenizer TOKENIZER = CharTokenizer.fromCorpus("abcdefgh");
  private static final GptConfig CONFIG = new GptConfig(TOKENIZER.vocabSize(), 8, 2, 2, 16, 0f);
  @RegisterExtension static final TinyModel MODEL = new TinyModel(CONFIG, TOKENIZER, 11);

  /** Last-position logits (B, V) of a full forward of the last blockSize tokens of each row. */
  private static float[][] full(int[][] rows) {
    int len = rows[0].length;
    int from = Math.max(0, len - CONFIG.blockSize());
    int[][] ctx =
        Arrays.stream(rows).map(r -> Arrays.copyOfRange(r, from, len)).toArray(int[][]::new);
    float[][] out = new float[rows.length][];
    try (NDManager m = NDManager.newBaseManager()) {
      float[] flat = MODEL.lm().logits(m, ctx).get(":, -1, :").toFloatArray();
      int v = CONFIG.vocabSize();
      for (int i = 0; i < rows.length; i++) {
        out[i] = Arrays.copyOfRange(flat, i * v, (i + 1) * v);
      }
    }
    return out;
  }

  private static void assertClose(float[][] actual, float[][] expected) {
    assertThat(actual.length).isEqualTo(expected.length);
    for (int i = 0; i < actual.length; i++) {
      for (int j = 0; j < actual[i].length; j++) {
        assertThat(Math.abs(actual[i][j] - expected[i][j])).as("[%d][%d]", i, j).isLessThan(1e-4f);
      }
    }
  }

  private static int[][] append(int[][] rows, int... next) {
    int[][] out = new int[rows.length][];
    for (int i = 0; i < rows.length; i++) {
      out[i] = Arrays.copyOf(rows[i], rows[i].length + 1);
      out[i][rows[i].length] = next[i];
    }
    return out;
  }

  @Test
  void aSmallStepRestoresTheCallersEngineThreadCount() {
    int before = JniUtils.getNumThreads();
    JniUtils.setNumThreads(2);
    try (CachedDecoder decoder = new CachedDecoder(MODEL.lm())) {
      int[][] rows = {TOKENIZER.encode("abc")};
      // the prefill and one cached step, both below LanguageModel.ONE_THREAD_MAX_MACS
      assertClose(decoder.nextLogits(rows), full(rows));
      assertThat(JniUtils.getNumThreads()).isEqualTo(2);
      rows = append(rows, 4);
      assertClose(decoder.nextLogits(rows), full(rows));
      assertThat(JniUtils.getNumThreads()).isEqualTo(2);
    } finally {
      JniUtils.setNumThreads(before);
    }
  }

  @Test
  void aGrowingBatchIsEncodedOnceThenOnePositionPerCallUntilTheBlockIsFull() {
    int[][] rows = {TOKENIZER.encode("ab"), TOKENIZER.encode("hg")};
    try (CachedDecoder decoder = new CachedDecoder(MODEL.lm())) {
      for (int step = 0; step < 6; step++) { // lengths 2..7, all <= blockSize 8
        assertClose(decoder.nextLogits(rows), full(rows));
        rows = append(rows, step % CONFIG.vocabSize(), (step + 3) % CONFIG.vocabSize());
      }
      assertThat(decoder.prefills()).isEqualTo(1);
      // lengths 8 (fills the cache), then 9 and 10: the cropped window is re-encoded each time
      for (int step = 0; step < 3; step++) {
        assertClose(decoder.nextLogits(rows), full(rows));
        rows = append(rows, 1, 2);
      }
      assertThat(decoder.prefills()).isEqualTo(3);
    }
  }

  @Test
  void finishedRowsLeaveTheBatchWithoutReEncodingTheOthers() {
    int[][] rows = {TOKENIZER.encode("abc"), TOKENIZER.encode("abc"), TOKENIZER.encode("hhh")};
    try (CachedDecoder decoder = new CachedDecoder(MODEL.lm())) {
      assertClose(decoder.nextLogits(rows), full(rows));
      rows = append(rows, 1, 2, 3);
      assertClose(decoder.nextLogits(rows), full(rows));
      // row 1 finished: rows 0 and 2 go on
      int[][] left = append(new int[][] {rows[0], rows[2]}, 4, 5);
      assertClose(decoder.nextLogits(left), full(left));
      // row 0 finished
      int[][] last = append(new int[][] {left[1]}, 6);
      assertClose(decoder.nextLogits(last), full(last));
      assertThat(decoder.prefills()).isEqualTo(1);
    }
  }

  @Test
  void sequencesThatDoNotExtendThePreviousOnesAreReEncoded() {
    try (CachedDecoder decoder = new CachedDecoder(MODEL.lm())) {
      int[] a = TOKENIZER.encode("abc");
      decoder.nextLogits(a);
      int[] changed = TOKENIZER.encode("abdd"); // one longer, but its prefix differs
      assertThat(decoder.nextLogits(changed)).hasSize(CONFIG.vocabSize());
      assertClose(new float[][] {decoder.nextLogits(changed)}, full(new int[][] {changed}));
      int[] shorter = TOKENIZER.encode("ab");
      assertClose(new float[][] {decoder.nextLogits(shorter)}, full(new int[][] {shorter}));
      assertThat(decoder.prefills()).isEqualTo(4);
    }
  }

  @Test
  void badInputIsRejectedWithTheReason() {
    try (CachedDecoder decoder = new CachedDecoder(MODEL.lm())) {
      assertThatThrownBy(() -> decoder.nextLogits(new int[0][]))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("empty batch");
      assertThatThrownBy(() -> decoder.nextLogits(new int[][] {{1, 2}, {1}}))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("row 1 has length 1, row 0 has 2");
      assertThatThrownBy(() -> decoder.nextLogits(new int[0]))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("length 0");
      assertThatThrownBy(() -> decoder.nextLogits(new int[] {1, 99}))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("token id 99");
      // still usable after a rejected call
      int[] ok = {1, 2};
      assertClose(new float[][] {decoder.nextLogits(ok)}, full(new int[][] {ok}));
    }
  }
}
