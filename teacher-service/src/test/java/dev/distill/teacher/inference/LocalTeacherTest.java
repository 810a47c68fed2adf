package dev.distill.teacher.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.schemas.avro.Rationale;
import java.util.List;
import java.util.Random;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What every {@link InProcessTeacher} shares, on our GPT: mixed lengths, limits, errors. */
class LocalTeacherTest {
  static final int BLOCK = 8;
  static final LabelingConfig CONFIG = new LabelingConfig(4, 2f, 8);
  static LocalTeacher teacher;

  @BeforeAll
  static void teacher() {
    CharTokenizer tok = CharTokenizer.fromCorpus("abcdefghijklmnopqrstuvwxyz ,.");
    LanguageModel lm =
        LanguageModel.create(new GptConfig(tok.vocabSize(), BLOCK, 1, 2, 16, 0f), tok, 7);
    teacher = new LocalTeacher("t", lm, CONFIG);
  }

  @AfterAll
  static void close() {
    teacher.close();
  }

  @Test
  void sequencesOfMixedLengthsComeBackInInputOrderLabelledAsEachAlone() throws Exception {
    List<int[]> in =
        List.of(
            teacher.encode("the f"),
            teacher.encode("ox."),
            teacher.encode("jumps"),
            teacher.encode("over it, "), // BLOCK + 1 tokens: the longest a call labels
            teacher.encode("ab"));
    assertThat(teacher.maxSequenceTokens()).isEqualTo(BLOCK + 1);
    List<LabeledSequence> out = teacher.label(in);

    SoftLabeler alone = new SoftLabeler(teacher.model(), new LabelingConfig(4, 2f, 1));
    assertThat(out).hasSize(in.size());
    for (int i = 0; i < in.size(); i++) {
      assertThat(out.get(i).tokens()).as("sequence %d", i).isEqualTo(in.get(i));
      LabeledSequence want = alone.label(List.of(in.get(i))).get(0);
      assertThat(out.get(i).labels().ids()).as("sequence %d", i).isEqualTo(want.labels().ids());
      float[] got = out.get(i).labels().probs();
      for (int j = 0; j < got.length; j++) {
        assertThat(got[j]).isCloseTo(want.labels().probs()[j], within(1e-5f));
      }
    }
  }

  @Test
  void aSequenceOutsideTwoToTheContextPlusOneIsRefusedNamingItAndNotRetried() {
    for (int[] bad : new int[][] {teacher.encode("a"), teacher.encode("abcdefghij")}) {
      assertThatThrownBy(() -> teacher.label(List.of(teacher.encode("abc"), bad)))
          .isInstanceOfSatisfying(TeacherException.class, e -> assertThat(e.retryable()).isFalse())
          .hasMessageContaining("sequence 1 has " + bad.length + " tokens, outside [2, 9]");
    }
  }

  @Test
  void rationalesAreSampledOnTheSameModelAndAPromptTooLongIsNotRetried() throws Exception {
    RationaleConfig rc = new RationaleConfig(2, 1f, 3, Pattern.compile("(\\.)"), "%s,");
    List<List<Rationale>> out = teacher.sampleRationales(List.of("ab", "cd"), rc, new Random(3));
    assertThat(out).hasSize(2).allSatisfy(rs -> assertThat(rs).hasSize(2));
    Integer[] prompt =
        java.util.Arrays.stream(teacher.encode("cd,")).boxed().toArray(Integer[]::new);
    for (Rationale r : out.get(1)) {
      assertThat(r.getTokenIds().subList(0, 3)).containsExactly(prompt);
      assertThat(r.getTokenIds().size()).isBetween(4, 6);
    }

    assertThatThrownBy(() -> teacher.sampleRationales(List.of("abcdefgh"), rc, new Random(3)))
        .isInstanceOfSatisfying(TeacherException.class, e -> assertThat(e.retryable()).isFalse())
        .hasMessageContaining("leaves no room");
  }
}
