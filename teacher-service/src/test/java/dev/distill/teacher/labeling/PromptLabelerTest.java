package dev.distill.teacher.labeling;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.schemas.avro.Prompt;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.teacher.TestTeachers;
import dev.distill.teacher.inference.LocalTeacher;
import dev.distill.teacher.inference.RationaleConfig;
import dev.distill.teacher.labeling.PromptLabeler.Prepared;
import dev.distill.teacher.labeling.PromptLabeler.Reason;
import dev.distill.teacher.labeling.PromptLabeler.Rejection;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class PromptLabelerTest {
  static LocalTeacher teacher;

  @BeforeAll
  static void teacher() {
    teacher = TestTeachers.tiny(16, 3, 2f);
  }

  @AfterAll
  static void close() {
    teacher.close();
  }

  static Prompt prompt(String text) {
    return Prompt.newBuilder()
        .setPromptId("p")
        .setRunId("r")
        .setSource("s")
        .setText(text)
        .setGoldAnswer("42")
        .build();
  }

  @Test
  void longPromptIsCutIntoChunksSharingBoundaryTokensAndOneRecordId() throws Exception {
    PromptLabeler labeler = new PromptLabeler(teacher, 16, 100);
    String text = "abcdefghijklmnopqrstuvwxyz abcdefghijklm"; // 40 tokens, 39 positions
    Prepared p = (Prepared) labeler.prepare(prompt(text));
    assertThat(p.chunks()).extracting(c -> c.length).containsExactly(17, 17, 8);
    List<TeacherOutput> out = labeler.label(List.of(p)).get(0);
    assertThat(out).hasSize(3);
    int[] all = teacher.encode(text);
    int start = 0;
    for (int i = 0; i < 3; i++) {
      TeacherOutput r = out.get(i);
      assertThat(r.getChunkIndex()).isEqualTo(i);
      assertThat(r.getChunkCount()).isEqualTo(3);
      assertThat(r.getRecordId()).isEqualTo(out.get(0).getRecordId());
      assertThat(r.getGoldAnswer()).isEqualTo("42");
      assertThat(r.getStats().getPositions()).isEqualTo(r.getTokens().size() - 1);
      for (int j = 0; j < r.getTokens().size(); j++) {
        assertThat(r.getTokens().get(j)).isEqualTo(all[start + j]);
      }
      start += r.getTokens().size() - 1;
    }
    assertThat(start).isEqualTo(all.length - 1);
  }

  @Test
  void chunksNeverExceedTheTeachersContext() {
    PromptLabeler labeler = new PromptLabeler(teacher, 1000, 100);
    assertThat(labeler.chunkPositions()).isEqualTo(16);
  }

  @Test
  void unservablePromptsAreRejectedWithTheirReason() {
    PromptLabeler labeler = new PromptLabeler(teacher, 16, 20);
    assertThat(((Rejection) labeler.prepare(prompt("a".repeat(21)))).reason())
        .isEqualTo(Reason.OVER_LENGTH);
    assertThat(((Rejection) labeler.prepare(prompt("a"))).reason()).isEqualTo(Reason.TOO_SHORT);
    Rejection bad = (Rejection) labeler.prepare(prompt("ab#c"));
    assertThat(bad.reason()).isEqualTo(Reason.UNTOKENIZABLE);
    assertThat(bad.detail()).contains("prompt p").contains("'#'");
    assertThat(((Rejection) labeler.prepare(prompt("ab\uFFFD"))).reason())
        .isEqualTo(Reason.BAD_UTF8);
    assertThat(labeler.prepare(prompt("a".repeat(20)))).isInstanceOf(Prepared.class);
  }

  @Test
  void rationalesAreRefusedWithoutAConfigOrOverItsMaximumAndSampledOnTheFirstChunkOtherwise()
      throws Exception {
    Prompt asks = Prompt.newBuilder(prompt("abcdefghijklmnopqrstu")).setNumRationales(2).build();
    Rejection none = (Rejection) new PromptLabeler(teacher, 16, 100).prepare(asks);
    assertThat(none.reason()).isEqualTo(Reason.RATIONALES_REFUSED);
    RationaleConfig cot = new RationaleConfig(2, 1f, 4, Pattern.compile("(z)"), "%s");
    PromptLabeler labeler = new PromptLabeler(teacher, 16, 100, cot);
    Prompt tooMany = Prompt.newBuilder(asks).setNumRationales(3).build();
    assertThat(((Rejection) labeler.prepare(tooMany)).reason())
        .isEqualTo(Reason.RATIONALES_REFUSED);
    // 21 tokens do not leave room to generate in a context of 16.
    assertThat(((Rejection) labeler.prepare(asks)).reason()).isEqualTo(Reason.OVER_LENGTH);
    Prompt fits = Prompt.newBuilder(asks).setText("abcdefghijk").build();
    List<TeacherOutput> out = labeler.label(List.of((Prepared) labeler.prepare(fits))).get(0);
    assertThat(out.get(0).getRationales()).hasSize(2);
    // Seeded from the prompt ids: labelling again samples the same rationales.
    assertThat(labeler.label(List.of((Prepared) labeler.prepare(fits))).get(0).get(0))
        .extracting(TeacherOutput::getRationales)
        .isEqualTo(out.get(0).getRationales());
  }
}
