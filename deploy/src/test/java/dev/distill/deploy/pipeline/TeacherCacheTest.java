package dev.distill.deploy.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.deploy.cli.DistillCli;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.teacher.TestOutputs;
import dev.distill.teacher.TestTeachers;
import dev.distill.teacher.inference.TeacherIdentity;
import dev.distill.trainer.training.TrainConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The demo's teachers carry their name in the checkpoint, so {@code distill label --checkpoint
 * runs/<id>/models/teacher} without {@code --teacher-id} records the identity the demo recorded
 * (issue 17: curate saw "2 distinct teachers").
 */
class TeacherCacheTest {
  @TempDir Path tmp;

  @Test
  void labelOnTheDemosTeacherCopyRecordsTheDemosTeacherIdentity() throws Exception {
    CharTokenizer tok = CharTokenizer.fromCorpus("abcdefghijklmnopqrstuvwxyz ,.");
    int[] data = tok.encode("the cat sat on the mat. ".repeat(20));
    GptConfig gc = new GptConfig(tok.vocabSize(), 16, 1, 2, 16, 0f);
    TrainConfig tc = new TrainConfig(2, 2, 1e-3f, 1, 1e-4f, 0f, 1f, 0, 1, 7L);
    Path cached =
        TeacherCache.loadOrTrain(
            tmp.resolve("cache"),
            "tiny",
            "tiny-char-gpt-1l",
            "data",
            gc,
            tc,
            tok,
            data,
            data,
            7L,
            new PrintStream(new ByteArrayOutputStream()));
    // What the demo does: copy the cached checkpoint into the run, record teacherIdOf + model sha.
    Path runCopy = tmp.resolve("runs/demo/models/teacher");
    LocalPipeline.copyRecursively(cached, runCopy);
    String demoId = TeacherIdentity.teacherIdOf(cached);
    assertThat(demoId).isEqualTo("tiny-char-gpt-1l");
    String demoSha;
    try (var lm = Checkpoints.load(cached)) {
      demoSha = lm.parametersSha256();
    }

    Path input = tmp.resolve("p.jsonl");
    Files.writeString(input, "{\"prompt_id\":\"a\",\"text\":\"the cat sat.\"}\n");
    Path out = tmp.resolve("labels");
    assertThat(DistillCli.execute(TestTeachers.labelArgs("label", runCopy, input, out, "r")))
        .isZero();
    assertThat(TestOutputs.readAll(out))
        .isNotEmpty()
        .allSatisfy(
            g -> assertThat(TestOutputs.teacherIdentity(g)).isEqualTo(demoId + "@" + demoSha));
  }
}
