package dev.distill.teacher.inference;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.teacher.TeacherServiceMain;
import dev.distill.teacher.TestOutputs;
import dev.distill.teacher.TestTeachers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.avro.generic.GenericRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One checkpoint, one identity, whichever command labels with it (issue 17). */
class TeacherIdentityTest {
  @TempDir Path tmp;

  @Test
  void theIdIsTheNameStoredInTheCheckpointElseItsParametersShaPrefixWhereverItIsCopied()
      throws Exception {
    Path named = tmp.resolve("named");
    Path plain = tmp.resolve("plain");
    try (LocalTeacher t = TestTeachers.tiny(16, 4, 2f)) {
      Checkpoints.save(t.model(), named, Map.of(TeacherIdentity.TEACHER_ID_KEY, "my-teacher"));
      Checkpoints.save(t.model(), plain, Map.of("role", "teacher"));
    }
    assertThat(TeacherIdentity.teacherIdOf(named)).isEqualTo("my-teacher");
    String id = TeacherIdentity.teacherIdOf(plain);
    assertThat(id).matches("gpt-[0-9a-f]{12}");
    Path copy = tmp.resolve("elsewhere/models/teacher");
    Files.createDirectories(copy);
    try (var files = Files.list(plain)) {
      for (Path f : files.toList()) {
        Files.copy(f, copy.resolve(f.getFileName()));
      }
    }
    assertThat(TeacherIdentity.teacherIdOf(copy)).isEqualTo(id);
  }

  @Test
  void batchWithoutTeacherIdRecordsTheCheckpointsIdentityAsTheDemoDoes() throws Exception {
    Path ckpt = tmp.resolve("teacher");
    try (LocalTeacher t = TestTeachers.tiny(16, 4, 2f)) {
      Checkpoints.save(
          t.model(), ckpt, Map.of(TeacherIdentity.TEACHER_ID_KEY, "shakespeare-char-gpt-1l"));
    }
    Path input = tmp.resolve("p.jsonl");
    Files.writeString(input, "{\"prompt_id\":\"a\",\"text\":\"the cat sat.\"}\n");
    Path out = tmp.resolve("out");
    assertThat(TeacherServiceMain.execute(TestTeachers.labelArgs("batch", ckpt, input, out, "r")))
        .isZero();
    // What the demo records for this checkpoint (LocalPipeline: teacherIdOf + the loaded model).
    String expectedSha;
    try (var lm = Checkpoints.load(ckpt)) {
      expectedSha =
          TeacherIdentity.provenance(
                  TeacherIdentity.teacherIdOf(ckpt), lm, new LabelingConfig(4, 2f, 64))
              .getTeacherSha256()
              .toString();
    }
    List<GenericRecord> records = TestOutputs.readAll(out);
    assertThat(records)
        .isNotEmpty()
        .allSatisfy(
            g ->
                assertThat(TestOutputs.teacherIdentity(g))
                    .isEqualTo("shakespeare-char-gpt-1l@" + expectedSha));
    assertThat(Files.readString(out.resolve("_config.json")))
        .contains("\"teacher_id\": \"shakespeare-char-gpt-1l\"");
  }
}
