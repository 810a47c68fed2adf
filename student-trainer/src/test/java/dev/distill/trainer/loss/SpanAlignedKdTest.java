package dev.distill.trainer.loss;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.models.tokenizer.HfTokenizer;
import dev.distill.trainer.NDManagerPerTest;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SpanAlignedKdTest extends NDManagerPerTest {
  private static final Path BPE = Path.of("../models/src/test/resources/hf/bpe-shakespeare");
  private static final String TEXT =
      "First Citizen:\nBefore we proceed any further, hear me speak.";

  @Test
  void spansCloseWhereBothTokenizationsEndAtTheSameCharacter() {
    // Teacher "ab|cde|f", student "a|b|cd|ef": shared ends at 2 and 6.
    List<CharSpanAlignment.Span> spans =
        CharSpanAlignment.align(new int[] {2, 5, 6}, new int[] {1, 2, 4, 6});

    assertThat(spans)
        .containsExactly(
            new CharSpanAlignment.Span(0, 1, 0, 2, 0, 2),
            new CharSpanAlignment.Span(1, 3, 2, 4, 2, 6));
    assertThatThrownBy(() -> CharSpanAlignment.align(new int[] {2}, new int[] {3}))
        .hasMessageContaining("different texts");
  }

  @Test
  void aBpeTeacherAndACharStudentAlignOnEveryBpeTokenBoundary() throws Exception {
    try (HfTokenizer bpe = HfTokenizer.load(BPE)) {
      CharTokenizer chars = CharTokenizer.fromCorpus(TEXT);
      int[] t = bpe.encode(TEXT);
      int[] s = chars.encode(TEXT);
      List<CharSpanAlignment.Span> spans =
          CharSpanAlignment.align(
              CharSpanAlignment.endOffsets(bpe, t), CharSpanAlignment.endOffsets(chars, s));

      assertThat(t.length).isLessThan(s.length);
      assertThat(spans).hasSize(t.length);
      StringBuilder joined = new StringBuilder();
      for (CharSpanAlignment.Span sp : spans) {
        assertThat(sp.teacherEnd() - sp.teacherStart()).isEqualTo(1);
        String teacherText = bpe.decode(new int[] {t[sp.teacherStart()]});
        String studentText =
            chars.decode(java.util.Arrays.copyOfRange(s, sp.studentStart(), sp.studentEnd()));
        assertThat(studentText).isEqualTo(teacherText);
        joined.append(studentText);
      }
      assertThat(joined.toString()).isEqualTo(TEXT);
      // The other way round (BPE student, char teacher): the same spans.
      assertThat(
              CharSpanAlignment.align(
                  CharSpanAlignment.endOffsets(chars, s), CharSpanAlignment.endOffsets(bpe, t)))
          .hasSize(t.length);
    }
  }

  @Test
  void bucketsMergeBothVocabulariesByTheFirstCharacterOfEachTokensText() throws Exception {
    try (HfTokenizer bpe = HfTokenizer.load(BPE)) {
      CharTokenizer chars = CharTokenizer.fromCorpus(TEXT);
      SpanAlignedKd.Buckets b = SpanAlignedKd.Buckets.of(bpe, chars);
      int space = chars.encode(" ")[0];
      int[] the = bpe.encode(" we");
      assertThat(the).hasSize(1);
      int w = bpe.encode("w")[0];

      assertThat(b.teacherColumn(the[0])).isEqualTo(b.studentColumn(space));
      float[] merged = b.teacherMerged(new int[] {the[0], w}, new float[] {0.6f, 0.3f});
      assertThat(merged[b.studentColumn(space)]).isEqualTo(0.6f);
      assertThat(merged[b.teacherColumn(w)]).isEqualTo(0.3f);
      NDArray m = b.studentMerge(manager);
      assertThat(m.getShape()).isEqualTo(new Shape(chars.vocabSize(), b.size()));
      assertThat(m.sum(new int[] {1}).toFloatArray()).containsOnly(1f);
    }
  }

  @Test
  void handComputedForwardKlOverMergedCharactersAndTheRestBucket() {
    // Student ids 0 ('a'), 1 ('a'), 2 ('b'); probabilities (0.2, 0.3, 0.5): Q(a) = 0.5.
    // Teacher top-k reaches only 'a' (0.6), tail 0.4. Buckets: (0.6, 0.4) vs (0.5, 0.5).
    NDArray merge =
        manager.create(new float[] {1, 0, 0, 1, 0, 0, 0, 1, 0}, new Shape(3, 3)); // a, b, other
    NDArray logits =
        manager.create(
            new float[] {
              9f, 9f, 9f, (float) Math.log(0.2), (float) Math.log(0.3), (float) Math.log(0.5)
            },
            new Shape(1, 2, 3));
    NDArray d =
        SpanAlignedKd.perSpan(
            Divergence.FORWARD_KL,
            logits,
            manager.create(new long[] {1}, new Shape(1, 1)),
            manager.create(new float[] {0.6f, 0f, 0f}, new Shape(1, 1, 3)),
            manager.create(new float[] {0.4f}, new Shape(1, 1)),
            merge,
            1f);

    double expected = 0.6 * Math.log(0.6 / 0.5) + 0.4 * Math.log(0.4 / 0.5);
    assertThat(d.getFloat(0, 0)).isCloseTo((float) expected, within(1e-5f));
  }

  @Test
  void boundaryRatesAreHandCountedAndCorrectTheTeachersBuckets() {
    // Teacher chars a, b; student tokens a=0, b=1, ab=2. Columns a=0, b=1, other=2.
    SpanAlignedKd.Buckets b =
        SpanAlignedKd.Buckets.of(new String[] {"a", "b"}, new String[] {"a", "b", "ab"});
    // "abab" = ab|ab, "aab" = a|ab. Token starts followed by "a" then a character:
    //   "a"+b at 0 and 2 of "abab" (the token there is "ab": no boundary after "a"), "a"+a at 0 of
    //   "aab" (boundary), "a"+b at 1 of "aab" (no boundary): n(a, .) = 1 (a), 3 (b); b(a, a) = 1.
    //   "ab"+a at 0 of "abab" (boundary): n(ab, a) = b(ab, a) = 1.
    SpanAlignedKd.BoundaryRates r =
        SpanAlignedKd.BoundaryRates.estimate(
            b,
            new String[] {"a", "b", "ab"},
            List.of("abab", "aab"),
            List.of(new int[] {2, 2}, new int[] {0, 2}));

    // beta(a) = (1 + 1) / (4 + 1) = 0.4; beta(a, a) = (1 + 2 * 0.4) / (1 + 2) = 0.6;
    // beta(a, b) = (0 + 0.8) / (3 + 2) = 0.16; beta(a, other) = (0 + 0.8) / 2 = 0.4
    assertThat(r.pooled(0)).isCloseTo(0.4f, within(1e-6f));
    assertThat(r.rate(0, 0)).isCloseTo(0.6f, within(1e-6f));
    assertThat(r.rate(0, 1)).isCloseTo(0.16f, within(1e-6f));
    assertThat(r.rate(0, 2)).isCloseTo(0.4f, within(1e-6f));
    // "ab" is always whole, "b" never seen: no correction
    assertThat(r.rate(2, 0)).isEqualTo(1f);
    assertThat(r.rate(2, 1)).isEqualTo(1f);
    assertThat(r.pooled(1)).isEqualTo(1f);

    // After "a": teacher (a 0.3, b 0.6), tail 0.1 -> (0.18, 0.096), 0.04, over Z = 0.316
    float[] row = {0.3f, 0.6f, 0f};
    float tail = r.correct(0, row, 0.1f);
    assertThat(row[0]).isCloseTo(0.18f / 0.316f, within(1e-6f));
    assertThat(row[1]).isCloseTo(0.096f / 0.316f, within(1e-6f));
    assertThat(row[2]).isZero();
    assertThat(tail).isCloseTo(0.04f / 0.316f, within(1e-6f));
  }

  @Test
  void aBpeStudentAfterTheTokenThRarelySeesAnE() throws Exception {
    // " the" is one token of the fixture, so " th" is whole only when no "e" follows.
    String text = "the thee three thy thin the them those thrice the thither thane";
    try (HfTokenizer bpe = HfTokenizer.load(BPE)) {
      CharTokenizer chars = CharTokenizer.fromCorpus(text);
      SpanAlignedKd.Buckets b = SpanAlignedKd.Buckets.of(chars, bpe);
      SpanAlignedKd.BoundaryRates r =
          SpanAlignedKd.BoundaryRates.estimate(
              b,
              SpanAlignedKd.Buckets.texts(bpe),
              List.of(text, text.replace("the ", "thy ")),
              List.of(bpe.encode(text), bpe.encode(text.replace("the ", "thy "))));
      int th = bpe.tokenId("Ġth").orElseThrow();
      int e = b.column('e');
      int i = b.column('i');

      assertThat(r.rate(th, e)).isLessThan(r.pooled(th));
      assertThat(r.rate(th, e)).isLessThan(r.rate(th, i));
    }
  }

  private static final int T = 3, V = 4, C = 3, N = 2;

  private float loss(float[] z, float temp) {
    return SpanAlignedKd.loss(
            Divergence.FORWARD_KL,
            manager.create(z, new Shape(1, T, V)),
            manager.create(new long[] {0, 2}, new Shape(1, N)),
            manager.create(new float[] {0.5f, 0.2f, 0f, 0f, 0.7f, 0f}, new Shape(1, N, C)),
            manager.create(new float[] {0.3f, 0.3f}, new Shape(1, N)),
            manager.create(new float[] {1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, new Shape(V, C)),
            manager.ones(new Shape(1, N)),
            temp)
        .getFloat();
  }

  @Test
  void gradientMatchesFiniteDifferencesAndIsTemperatureSquaredScaled() {
    float[] z = FiniteDifferences.gaussian(new Random(3), T * V, 1f);
    float temp = 2f;
    float[] grad =
        FiniteDifferences.autograd(
            manager,
            z,
            new Shape(1, T, V),
            logits ->
                SpanAlignedKd.loss(
                    Divergence.FORWARD_KL,
                    logits,
                    manager.create(new long[] {0, 2}, new Shape(1, N)),
                    manager.create(new float[] {0.5f, 0.2f, 0f, 0f, 0.7f, 0f}, new Shape(1, N, C)),
                    manager.create(new float[] {0.3f, 0.3f}, new Shape(1, N)),
                    manager.create(
                        new float[] {1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, new Shape(V, C)),
                    manager.ones(new Shape(1, N)),
                    temp));
    FiniteDifferences.assertMatches(grad, z, x -> loss(x, temp), 1e-2f, 3e-3, "");
    // Position 1 predicts no span: its logits get no gradient.
    for (int j = V; j < 2 * V; j++) {
      assertThat(grad[j]).isZero();
    }
    assertThat(grad[0]).isNotZero();
  }

  @Test
  void aCharStudentThatPredictsTheBpeTeachersNextCharacterDistributionHasZeroLoss()
      throws Exception {
    try (HfTokenizer bpe = HfTokenizer.load(BPE)) {
      CharTokenizer chars = CharTokenizer.fromCorpus(TEXT);
      int[] t = bpe.encode(TEXT);
      int[] s = chars.encode(TEXT);
      // Teacher labels: 0.8 on the true next BPE token, tail 0.2.
      int positions = t.length - 1;
      int[] ids = new int[positions];
      float[] probs = new float[positions];
      float[] tail = new float[positions];
      for (int p = 0; p < positions; p++) {
        ids[p] = t[p + 1];
        probs[p] = 0.8f;
        tail[p] = 0.2f;
      }
      dev.distill.schemas.codec.SoftLabels labels =
          new dev.distill.schemas.codec.SoftLabels(positions, 1, ids, probs, tail);
      SpanAlignedKd.Buckets b = SpanAlignedKd.Buckets.of(bpe, chars);
      SpanAlignedKd.Targets targets =
          SpanAlignedKd.targets(
              b,
              labels,
              CharSpanAlignment.align(
                  CharSpanAlignment.endOffsets(bpe, t), CharSpanAlignment.endOffsets(chars, s)));
      assertThat(targets.spans()).isEqualTo(t.length - 1);
      // Char student: 0.8 on the true next character, the rest spread evenly.
      int v = chars.vocabSize();
      float[] z = new float[s.length * v];
      float[] wrong = z.clone();
      for (int p = 0; p + 1 < s.length; p++) {
        for (int j = 0; j < v; j++) {
          z[p * v + j] = (float) Math.log(0.2 / (v - 1));
          wrong[p * v + j] = 0f;
        }
        z[p * v + s[p + 1]] = (float) Math.log(0.8);
      }
      NDArray[] a = targets.arrays(manager);
      java.util.function.Function<float[], Float> lossAt =
          logits ->
              SpanAlignedKd.loss(
                      Divergence.FORWARD_KL,
                      manager.create(logits, new Shape(1, s.length, v)),
                      a[0],
                      a[1],
                      a[2],
                      b.studentMerge(manager),
                      manager.ones(new Shape(1, targets.spans())),
                      1f)
                  .getFloat();
      float right = lossAt.apply(z);
      float uniform = lossAt.apply(wrong);

      assertThat(right).isCloseTo(0f, within(1e-5f));
      // Uniform student: Q(c) = 1/v; KL = 0.8 ln(0.8 v) + 0.2 ln(0.2 / (1 - 1/v)).
      double expected = 0.8 * Math.log(0.8 * v) + 0.2 * Math.log(0.2 / (1 - 1.0 / v));
      assertThat(uniform).isCloseTo((float) expected, within(1e-4f));
    }
  }
}
