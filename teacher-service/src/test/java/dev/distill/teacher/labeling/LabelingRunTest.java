package dev.distill.teacher.labeling;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.models.gpt.LanguageModel;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.validation.SoftLabelValidator;
import dev.distill.teacher.TestTeachers;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.SoftLabeler;
import dev.distill.teacher.inference.TeacherIdentity;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class LabelingRunTest {
  static LanguageModel teacher;

  @BeforeAll
  static void teacher() {
    teacher = TestTeachers.model("abcdefghij ", 16, 1, 8, 7);
  }

  @AfterAll
  static void close() {
    teacher.close();
  }

  private List<TextPrompt> prompts(int n) {
    List<TextPrompt> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(
          new TextPrompt(
              "p" + i, "test", teacher.tokenizer().encode("abc def " + (char) ('a' + i))));
    }
    return out;
  }

  /** Top-3 at T = 2, batches of 4 prompts. */
  private static LabelingRun run(String runId) {
    LabelingConfig lc = new LabelingConfig(3, 2f, 4);
    return new LabelingRun(
        new SoftLabeler(teacher, lc), TeacherIdentity.provenance("t", teacher, lc), runId);
  }

  @Test
  void everyPromptBecomesOneValidRecordWithProvenanceAndOneCommit() throws IOException {
    LabelingRun run = run("run-1");
    CollectingSink sink = new CollectingSink();
    List<Long> progress = new ArrayList<>();
    LabelingRun.Summary s = run.run(prompts(10), sink, progress::add);

    assertThat(sink.records).hasSize(10);
    assertThat(sink.commits).isEqualTo(1);
    assertThat(progress).containsExactly(4L, 8L, 10L);
    assertThat(s.records()).isEqualTo(10);
    assertThat(s.tokens()).isEqualTo(10 * 8);
    assertThat(s.bytesPerToken()).isGreaterThan(3 * 2);
    for (TeacherOutput r : sink.records) {
      assertThat(SoftLabelValidator.validate(r)).isEmpty();
      assertThat(r.getProvenance().getTokenizerSha256()).isEqualTo(teacher.tokenizer().sha256());
      assertThat(r.getProvenance().getTeacherSha256()).isEqualTo(teacher.parametersSha256());
      assertThat(r.getRunId()).isEqualTo("run-1");
    }
  }

  @Test
  void recordIdsAreStableAcrossRunsAndDistinctAcrossPrompts() throws IOException {
    LabelingRun run = run("r");
    CollectingSink a = new CollectingSink();
    CollectingSink b = new CollectingSink();
    run.run(prompts(5), a, x -> {});
    run.run(prompts(5), b, x -> {});
    List<String> idsA = a.records.stream().map(TeacherOutput::getRecordId).toList();
    List<String> idsB = b.records.stream().map(TeacherOutput::getRecordId).toList();
    assertThat(idsA).isEqualTo(idsB).doesNotHaveDuplicates();
  }
}
