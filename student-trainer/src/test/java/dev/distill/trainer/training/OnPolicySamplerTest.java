package dev.distill.trainer.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.distill.models.generation.Sampler;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.schemas.codec.SoftLabels;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Batched on-policy sampling (one KV cache for the batch, prompts of different lengths) against
 * {@code models}' {@link Sampler} run row by row with each row's RNG; and the teacher's one padded
 * forward against scoring each sequence alone. Real tiny GPTs.
 */
class OnPolicySamplerTest {
  private static final String TEXT = "the quick brown fox jumps over the lazy dog. ".repeat(4);
  private static final int BLOCK = 24;

  static CharTokenizer tok;
  static LanguageModel student;
  static LanguageModel teacher;
  static List<int[]> prompts;
  static int[] counts;

  @BeforeAll
  static void models() {
    tok = CharTokenizer.fromCorpus(TEXT);
    student = LanguageModel.create(new GptConfig(tok.vocabSize(), BLOCK, 2, 2, 32, 0f), tok, 5);
    teacher = LanguageModel.create(new GptConfig(tok.vocabSize(), BLOCK, 1, 2, 32, 0f), tok, 6);
    int[] ids = tok.encode(TEXT);
    prompts = new ArrayList<>();
    // prompt lengths 3..12 and counts 0..9 in no order: rows start, leave and sample at different
    // steps; the longest row is 12 + 9 = 21 <= BLOCK
    int[] lengths = {7, 3, 12, 5, 9, 3, 11};
    counts = new int[] {9, 6, 4, 0, 8, 9, 1};
    for (int i = 0; i < lengths.length; i++) {
      prompts.add(Arrays.copyOfRange(ids, 5 * i, 5 * i + lengths[i]));
    }
  }

  @AfterAll
  static void close() {
    student.close();
    teacher.close();
  }

  static List<int[]> rowByRow(float temperature, long seed) {
    List<int[]> out = new ArrayList<>();
    for (int i = 0; i < prompts.size(); i++) {
      out.add(
          Sampler.generate(
              student,
              prompts.get(i),
              counts[i],
              temperature,
              new Random(OnPolicySampler.rowSeed(seed, i))));
    }
    return out;
  }

  @Test
  void batchedSamplingGivesEachRowWhatTheSamplerGivesItAloneWithItsRowSeed() {
    for (long seed : new long[] {1, 42, -7}) {
      List<int[]> batched = OnPolicySampler.sample(student, prompts, counts, 1f, seed);
      List<int[]> single = rowByRow(1f, seed);
      for (int i = 0; i < prompts.size(); i++) {
        assertThat(batched.get(i)).as("row %d, seed %d", i, seed).isEqualTo(single.get(i));
        assertThat(batched.get(i)).hasSize(prompts.get(i).length + counts[i]);
      }
    }
  }

  @Test
  void greedyBatchedSamplingEqualsGreedyRowByRow() {
    List<int[]> batched = OnPolicySampler.sample(student, prompts, counts, 0f, 3);
    List<int[]> single = rowByRow(0f, 3);
    for (int i = 0; i < prompts.size(); i++) {
      assertThat(batched.get(i)).as("row %d", i).isEqualTo(single.get(i));
    }
  }

  @Test
  void aRowsSamplesDoNotDependOnTheOtherRowsOfItsBatch() {
    List<int[]> all = OnPolicySampler.sample(student, prompts, counts, 1f, 9);
    // row 4 alone, as row 4 of a batch whose other rows sample nothing
    int[] none = new int[counts.length];
    none[4] = counts[4];
    List<int[]> alone = OnPolicySampler.sample(student, prompts, none, 1f, 9);
    assertThat(alone.get(4)).isEqualTo(all.get(4));
    assertThat(alone.get(0)).isEqualTo(prompts.get(0));
    // another seed draws other tokens somewhere (a random student is far from deterministic)
    List<int[]> other = OnPolicySampler.sample(student, prompts, counts, 1f, 10);
    boolean differs = false;
    for (int i = 0; i < prompts.size(); i++) {
      differs |= !Arrays.equals(other.get(i), all.get(i));
    }
    assertThat(differs).isTrue();
  }

  @Test
  void refusesMismatchedCountsAndEmptyPrompts() {
    assertThatThrownBy(() -> OnPolicySampler.sample(student, prompts, new int[2], 1f, 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("7 prompts but 2 token counts");
    assertThatThrownBy(
            () -> OnPolicySampler.sample(student, List.of(new int[0]), new int[] {1}, 1f, 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("row 0");
  }

  @Test
  void theTeachersPaddedBatchScoresEachSequenceAsItWouldAlone() {
    LocalOnPolicyTeacher lt = new LocalOnPolicyTeacher(teacher, tok, 2f, 3);
    List<int[]> sequences = OnPolicySampler.sample(student, prompts, counts, 1f, 4);
    List<SoftLabels> together = lt.score(sequences);
    for (int i = 0; i < sequences.size(); i++) {
      SoftLabels alone = lt.score(List.of(sequences.get(i))).get(0);
      SoftLabels batched = together.get(i);
      assertThat(batched.positions()).isEqualTo(sequences.get(i).length - 1);
      assertThat(batched.ids()).as("sequence %d", i).isEqualTo(alone.ids());
      for (int j = 0; j < alone.probs().length; j++) {
        assertThat(batched.probs()[j]).isCloseTo(alone.probs()[j], within(1e-5f));
      }
      for (int j = 0; j < alone.tails().length; j++) {
        assertThat(batched.tails()[j]).isCloseTo(alone.tails()[j], within(1e-5f));
      }
    }
  }
}
