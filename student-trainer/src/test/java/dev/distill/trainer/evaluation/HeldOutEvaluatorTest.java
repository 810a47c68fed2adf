package dev.distill.trainer.evaluation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class HeldOutEvaluatorTest {
  private static final CharTokenizer TOK = CharTokenizer.fromCorpus("abcdefgh");
  private static final GptConfig CONFIG = new GptConfig(TOK.vocabSize(), 8, 1, 2, 16, 0f);
  private static LanguageModel teacher;
  private static LanguageModel student;

  @BeforeAll
  static void models() {
    teacher = LanguageModel.create(CONFIG, TOK, 1);
    student = LanguageModel.create(CONFIG, TOK, 2);
  }

  @AfterAll
  static void close() {
    student.close();
    teacher.close();
  }

  private static int[] randomIds(int n, long seed) {
    Random r = new Random(seed);
    int[] ids = new int[n];
    for (int i = 0; i < n; i++) {
      ids[i] = r.nextInt(TOK.vocabSize());
    }
    return ids;
  }

  @Test
  void allLengthsSliceOfTheWindowsEqualsTheOverallNumbers() {
    HeldOutEvaluator evaluator = new HeldOutEvaluator(teacher, randomIds(100, 3), 8, 50, 5);
    SliceMetrics.Accumulator acc = new SliceMetrics.Accumulator("s", SliceMetrics.LENGTH_BUCKETS);

    EvalResult r = evaluator.evaluate("s", student, 0, "shakespeare", acc);

    assertThat(acc.rows()).hasSize(2); // all, and the one bucket every 8-position window is in
    SliceMetrics.Row all = acc.rows().get(0);
    assertThat(all.lengthBucket()).isEqualTo(SliceMetrics.ALL);
    assertThat(acc.rows().get(1).lengthBucket()).isEqualTo("[0,64)");
    assertThat(all.examples()).isEqualTo(12); // (100 - 1) / 8 windows
    assertThat(all.tokens()).isEqualTo(evaluator.tokens());
    assertThat(all.loss()).isCloseTo(r.valLoss(), within(1e-5));
    assertThat(all.top1Agreement()).isEqualTo(r.top1Agreement());
    assertThat(r.klTeacherStudent()).isGreaterThan(0);
    assertThat(all.forwardKl()).isCloseTo(r.klTeacherStudent(), within(1e-5));
    assertThat(all.ece()).isCloseTo(r.calibration().ece(), within(1e-9));
  }

  @Test
  void examplesOfDifferentLengthsAreScoredIntoTheirBuckets() {
    List<int[]> examples =
        List.of(randomIds(3, 1), randomIds(5, 2), randomIds(5, 3), randomIds(9, 4));
    SliceMetrics.Accumulator self = new SliceMetrics.Accumulator("teacher", new int[] {4});
    HeldOutEvaluator.scoreExamples(teacher, teacher, "arithmetic", examples, 2, self);
    List<SliceMetrics.Row> rows = self.rows();
    assertThat(rows)
        .extracting(SliceMetrics.Row::lengthBucket, SliceMetrics.Row::examples)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("all", 4L),
            org.assertj.core.groups.Tuple.tuple("[0,4)", 1L),
            org.assertj.core.groups.Tuple.tuple("[4,inf)", 3L));
    assertThat(rows).extracting(SliceMetrics.Row::tokens).containsExactly(18L, 2L, 16L);
    // the teacher against itself: full agreement, no divergence
    assertThat(rows).allSatisfy(r -> assertThat(r.top1Agreement()).isEqualTo(1.0));
    assertThat(rows).allSatisfy(r -> assertThat(r.forwardKl()).isCloseTo(0.0, within(1e-9)));

    // the same examples scored one at a time give the same per-slice loss as in batches
    SliceMetrics.Accumulator batched = new SliceMetrics.Accumulator("s", new int[] {4});
    HeldOutEvaluator.scoreExamples(teacher, student, "arithmetic", examples, 8, batched);
    SliceMetrics.Accumulator single = new SliceMetrics.Accumulator("s", new int[] {4});
    HeldOutEvaluator.scoreExamples(teacher, student, "arithmetic", examples, 1, single);
    for (int i = 0; i < 3; i++) {
      assertThat(single.rows().get(i).loss()).isCloseTo(batched.rows().get(i).loss(), within(1e-5));
    }
  }

  @Test
  void anExampleLongerThanTheContextFailsNamingIt() {
    SliceMetrics.Accumulator acc = new SliceMetrics.Accumulator("s", new int[] {4});
    assertThatThrownBy(
            () ->
                HeldOutEvaluator.scoreExamples(
                    teacher,
                    student,
                    "arithmetic",
                    List.of(randomIds(4, 1), randomIds(10, 2)),
                    2,
                    acc))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("arithmetic example 1 has 10 tokens");
  }
}
