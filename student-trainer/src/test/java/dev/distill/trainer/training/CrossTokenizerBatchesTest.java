package dev.distill.trainer.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.types.Shape;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.schemas.codec.SampledSoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.trainer.NDManagerPerTest;
import dev.distill.trainer.data.Example;
import dev.distill.trainer.loss.Divergence;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CrossTokenizerBatchesTest extends NDManagerPerTest {
  // teacher vocabulary a=0 b=1 c=2 z=3; student ' '=0 a=1 b=2 c=3: other ids, other sha256
  static final CharTokenizer TEACHER = CharTokenizer.fromCorpus("abcz");
  static final CharTokenizer STUDENT = CharTokenizer.fromCorpus(" abc");

  /** "abca" with a certain teacher: k = 1, the next character at probability 1, tail 0. */
  static Example certain(String id, String text) {
    int[] t = TEACHER.encode(text);
    int n = t.length - 1;
    int[] ids = new int[n];
    float[] probs = new float[n];
    for (int p = 0; p < n; p++) {
      ids[p] = t[p + 1];
      probs[p] = 1f;
    }
    return new Example(id, t, new SoftLabels(n, 1, ids, probs, new float[n]), 1f);
  }

  static CrossTokenizerBatches batches(CrossTokenizerBatches.Kind kind, float alpha, Example... e) {
    return new CrossTokenizerBatches(
        List.of(e), TEACHER, STUDENT, kind, alpha, 1f, 1, 16, Divergence.FORWARD_KL);
  }

  @Test
  void theStudentReadsItsOwnIdsOfTheTeachersText() {
    BatchSource.Batch b =
        batches(CrossTokenizerBatches.Kind.ULD, 1f, certain("x", "abca"))
            .next(manager, new Random(1));
    assertThat(b.inputs().toLongArray()).containsExactly(1, 2, 3);
    assertThat(b.tokens()).isEqualTo(3);
  }

  @Test
  void uldOfACertainTeacherAndAUniformStudentIsHandComputed() {
    // teacher sorted (1, 0, 0, 0) over V = max(4, 4); student zero logits: (1/4, 1/4, 1/4, 1/4)
    // ULD = |1 - 1/4| + 3 * 1/4 = 1.5 at every position; CE of a uniform student = ln 4
    assertThat(uniformStudentLoss(CrossTokenizerBatches.Kind.ULD, 1f))
        .isCloseTo(1.5f, within(1e-5f));
    assertThat(uniformStudentLoss(CrossTokenizerBatches.Kind.ULD, 0.5f))
        .isCloseTo((float) (0.5 * 1.5 + 0.5 * Math.log(4)), within(1e-5f));
  }

  @Test
  void spanAlignedForwardKlOfACertainTeacherAndAUniformStudentIsLnV() {
    // every character is a span; at each span start the teacher puts 1 on the next character's
    // bucket, the uniform student 1/4: KL = 1 * ln(1 / (1/4)) = ln 4 (T = 1, so T^2 = 1)
    assertThat(uniformStudentLoss(CrossTokenizerBatches.Kind.SPAN, 1f))
        .isCloseTo((float) Math.log(4), within(1e-5f));
  }

  @Test
  void theBoundaryCorrectionChangesNothingForACharacterStudent() {
    // every student token is one character and always whole: every boundary rate is 1
    assertThat(uniformStudentLoss(CrossTokenizerBatches.Kind.SPAN_DEBIASED, 1f))
        .isCloseTo((float) Math.log(4), within(1e-5f));
    assertThat(CrossTokenizerBatches.Kind.parse("span-debiased"))
        .isEqualTo(CrossTokenizerBatches.Kind.SPAN_DEBIASED);
  }

  @Test
  void tokenPathsOfACharacterStudentReduceToItsNextCharacter() {
    // one-character tokens: the path ends after its first level, and the leaf is the token itself
    assertThat(uniformStudentLoss(CrossTokenizerBatches.Kind.SPAN_PATH, 1f))
        .isCloseTo((float) Math.log(4), within(1e-5f));
  }

  @Test
  void examplesTheStudentCannotTokenizeAreLeftOutAndCounted() {
    CrossTokenizerBatches b =
        batches(CrossTokenizerBatches.Kind.SPAN, 1f, certain("x", "abca"), certain("y", "zab"));
    assertThat(b.size()).isEqualTo(1);
    assertThat(b.skipped()).isEqualTo(1);
    assertThatThrownBy(() -> batches(CrossTokenizerBatches.Kind.ULD, 1f, certain("y", "zab")))
        .hasMessageContaining("no example could be read");
  }

  @Test
  void sampledLabelsAndUnknownLossNamesAreRefused() {
    Example sampled =
        new Example(
            "s",
            TEACHER.encode("ab"),
            new SampledSoftLabelCodec.Sampled(1, 2, new int[] {0, 1}, new int[] {1}, new int[] {2})
                .toSoftLabels(2),
            1f);
    assertThatThrownBy(() -> batches(CrossTokenizerBatches.Kind.ULD, 1f, sampled))
        .hasMessageContaining("sampled labels");
    assertThatThrownBy(() -> CrossTokenizerBatches.Kind.parse("dskd"))
        .hasMessageContaining("expected uld, span, span-debiased or span-path");
  }

  /** The loss of a zero-logit (uniform) student on one certain teacher example, "abca". */
  private float uniformStudentLoss(CrossTokenizerBatches.Kind kind, float alpha) {
    return batches(kind, alpha, certain("x", "abca"))
        .next(manager, new Random(1))
        .loss(manager.zeros(new Shape(1, 3, 4)))
        .getFloat();
  }
}
