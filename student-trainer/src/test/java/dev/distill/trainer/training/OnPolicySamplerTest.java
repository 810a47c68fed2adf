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
  void aRowStopsRightAfterTheFirstStopSequenceInItsOwnSamples() {
    List<int[]> free = OnPolicySampler.sample(student, prompts, counts, 1f, 42);
    // stop = the second and third sampled tokens of row 0: a two-token sequence it is known to
    // sample; every row must end right after its first occurrence inside its own samples
    int p0 = prompts.get(0).length;
    int[] stop = Arrays.copyOfRange(free.get(0), p0 + 1, p0 + 3);
    List<int[]> stopped = OnPolicySampler.sample(student, prompts, counts, 1f, 42, stop);
    int stoppedRows = 0;
    for (int i = 0; i < prompts.size(); i++) {
      int[] f = free.get(i);
      int from = prompts.get(i).length;
      int first = firstEnd(f, from, stop);
      int end = first < 0 ? f.length : first; // the row ends after the first stop in its samples
      stoppedRows += end < f.length ? 1 : 0;
      // the same RNG draws up to the stop, so the stopped row is the free row's prefix
      assertThat(stopped.get(i)).as("row %d", i).isEqualTo(Arrays.copyOf(f, end));
    }
    assertThat(stopped.get(0).length).isLessThanOrEqualTo(p0 + 3);
    assertThat(stoppedRows).as("row 0 at least stops early").isPositive();
    // a stop that occurs in the prompt but not in the samples does not end the row
    int[] prompt = prompts.get(2);
    int[] greedy = OnPolicySampler.sample(student, List.of(prompt), new int[] {4}, 0f, 1).get(0);
    int[] inPromptOnly = null;
    for (int s = 0; s + 2 <= prompt.length && inPromptOnly == null; s++) {
      int[] bigram = Arrays.copyOfRange(prompt, s, s + 2);
      if (firstEnd(greedy, prompt.length, bigram) < 0) {
        inPromptOnly = bigram;
      }
    }
    assertThat(inPromptOnly).as("a bigram of the prompt the samples lack").isNotNull();
    assertThat(
            OnPolicySampler.sample(student, List.of(prompt), new int[] {4}, 0f, 1, inPromptOnly)
                .get(0))
        .isEqualTo(greedy);
  }

  /** The end of the first occurrence of {@code seq} inside {@code row[from..]}, else -1. */
  private static int firstEnd(int[] row, int from, int[] seq) {
    for (int e = from + seq.length; e <= row.length; e++) {
      if (Arrays.equals(row, e - seq.length, e, seq, 0, seq.length)) {
        return e;
      }
    }
    return -1;
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
