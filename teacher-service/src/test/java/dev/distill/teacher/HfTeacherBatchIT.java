package dev.distill.teacher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.distill.models.tokenizer.HfTokenizer;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.teacher.inference.TeacherSources;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.avro.generic.GenericRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code batch --teacher hf:FOLDER}: the Qwen2-style fixture of {@code models} (a real DJL model
 * from config.json + model.safetensors, byte-level BPE tokenizer of 660 ids, embedding padded to
 * 704 rows), JSONL in, real Parquet files out.
 */
class HfTeacherBatchIT {
  static final Path QWEN2 = HfFixtures.QWEN2;

  @TempDir Path tmp;

  private static byte[] bytes(ByteBuffer b) {
    ByteBuffer d = b.duplicate();
    byte[] out = new byte[d.remaining()];
    d.get(out);
    return out;
  }

  @Test
  void huggingFaceTeacherLabelsAndSamplesRationalesIntoParquetWithItsTokenizerIdentity()
      throws Exception {
    Path input = tmp.resolve("prompts.jsonl");
    Files.writeString(
        input,
        "{\"prompt_id\":\"a\",\"text\":\"the king is dead and the queen is here\"}\n"
            + "{\"prompt_id\":\"b\",\"text\":\"Hello world, my lord!\",\"num_rationales\":2}\n"
            + "{\"prompt_id\":\"c\",\"text\":\"to be or not to be\"}\n",
        StandardCharsets.UTF_8);
    Path out = tmp.resolve("out");
    int code =
        TeacherServiceMain.execute(
            "batch",
            "--teacher",
            "hf:" + QWEN2,
            "--top-k",
            "8",
            "--temperature",
            "2",
            "--rationales-max",
            "2",
            "--rationale-max-tokens",
            "6",
            "--input",
            input.toString(),
            "--output",
            out.toString(),
            "--run-id",
            "hf1");
    assertThat(code).isEqualTo(0);
    assertThat(out.resolve("_SUCCESS")).exists();
    assertThat(Files.readString(out.resolve("_rejects.jsonl"))).isEmpty();

    int vocab;
    String tokenizerId;
    String tokenizerSha;
    try (HfTokenizer tok = HfTokenizer.load(QWEN2)) {
      vocab = tok.vocabSize();
      tokenizerId = tok.id();
      tokenizerSha = tok.sha256();
    }
    assertThat(vocab).as("the fixture's embedding (704 rows) is padded past it").isEqualTo(660);
    String teacherSha = TeacherSources.huggingFaceSha256(QWEN2, tokenizerSha);

    List<GenericRecord> records = TestOutputs.readAll(out);
    assertThat(records).hasSize(3);
    int rationales = 0;
    for (GenericRecord g : records) {
      GenericRecord prov = (GenericRecord) g.get("provenance");
      assertThat(prov.get("tokenizerId").toString()).isEqualTo(tokenizerId);
      assertThat(prov.get("tokenizerSha256").toString()).isEqualTo(tokenizerSha);
      assertThat(prov.get("teacherSha256").toString()).isEqualTo(teacherSha);
      assertThat(prov.get("teacherId").toString())
          .isEqualTo("qwen2-" + teacherSha.substring(0, 12));
      assertThat((Integer) prov.get("vocabSize")).isEqualTo(vocab);
      assertThat((Integer) prov.get("topK")).isEqualTo(8);
      assertThat(((Number) prov.get("temperature")).floatValue()).isEqualTo(2f);
      for (Object t : (List<?>) g.get("tokens")) {
        assertThat((Integer) t).isBetween(0, vocab - 1);
      }
      assertLabels(SoftLabelCodec.decode(bytes((ByteBuffer) g.get("softLabels"))), vocab);
      List<?> rs = (List<?>) g.get("rationales");
      boolean asked = g.get("promptId").toString().equals("b");
      assertThat(rs).hasSize(asked ? 2 : 0);
      for (Object o : rs) {
        GenericRecord r = (GenericRecord) o;
        List<?> ids = (List<?>) r.get("tokenIds");
        for (Object t : ids) {
          assertThat((Integer) t).isBetween(0, vocab - 1);
        }
        assertThat(((Number) r.get("meanLogprob")).floatValue()).isNegative();
        SoftLabels l = SoftLabelCodec.decode(bytes((ByteBuffer) r.get("softLabels")));
        assertThat(l.positions()).isEqualTo(ids.size() - 1);
        assertLabels(l, vocab);
        rationales++;
      }
    }
    assertThat(rationales).isEqualTo(2);
    assertThat(Files.readString(out.resolve("_config.json")))
        .contains("\"teacher\": \"hf:" + QWEN2)
        .contains("\"teacher_id\": \"qwen2-" + teacherSha.substring(0, 12));

    // The identity is the folder's: a second run records the same teacher.
    Path again = tmp.resolve("again");
    assertThat(
            TeacherServiceMain.execute(
                "batch",
                "--checkpoint",
                QWEN2.toString(),
                "--input",
                input.toString(),
                "--output",
                again.toString(),
                "--run-id",
                "hf2"))
        .isEqualTo(0);
    GenericRecord first = TestOutputs.readAll(again).get(0);
    assertThat(((GenericRecord) first.get("provenance")).get("teacherSha256").toString())
        .isEqualTo(teacherSha);
  }

  /** Ids the tokenizer decodes, never a padded row; top-k and tail sum to 1 at every position. */
  private static void assertLabels(SoftLabels l, int vocab) {
    assertThat(l.positions()).isPositive();
    for (int p = 0; p < l.positions(); p++) {
      double sum = l.tail(p);
      for (int j = 0; j < l.k(); j++) {
        assertThat(l.id(p, j)).isBetween(0, vocab - 1);
        sum += l.prob(p, j);
      }
      assertThat(sum).isCloseTo(1.0, within(2e-3));
    }
  }
}
