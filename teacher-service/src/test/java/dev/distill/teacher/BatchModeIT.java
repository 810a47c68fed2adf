package dev.distill.teacher;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.schemas.avro.Prompt;
import dev.distill.teacher.inference.LocalTeacher;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.avro.generic.GenericRecord;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code teacher-service batch}: a real checkpoint, JSONL in, real Parquet files out. */
class BatchModeIT {
  @TempDir Path tmp;

  @Test
  void jsonlPromptsBecomeChunkedParquetWithSuccessRejectsAndConfigAndRerunReplaces()
      throws Exception {
    Path ckpt = tmp.resolve("teacher");
    TestTeachers.tinyCheckpoint(ckpt, Map.of());
    StringBuilder jsonl = new StringBuilder(TestTeachers.jsonlPrompts(20, 6));
    jsonl.append("{\"prompt_id\":\"bad\",\"text\":\"hash # sign\"}\n");
    jsonl.append("{\"prompt_id\":\"long\",\"text\":\"" + "a".repeat(200) + "\"}\n");
    jsonl.append("{\"prompt_id\":\"x\",\"text\":\"ok\",\"colour\":\"red\"}\n");
    jsonl.append("not json\n");
    Path input = tmp.resolve("prompts.jsonl");
    Files.write(input, jsonl.toString().getBytes(StandardCharsets.UTF_8));
    Path out = tmp.resolve("out");
    String[] args =
        TestTeachers.labelArgs(
            "batch",
            ckpt,
            input,
            out,
            "r1",
            "--temperature",
            "2",
            "--chunk-positions",
            "16",
            "--max-prompt-tokens",
            "100",
            "--token-budget",
            "64",
            "--records-per-file",
            "10");
    assertThat(TeacherServiceMain.execute(args)).isZero();
    List<GenericRecord> first = TestOutputs.readAll(out);
    int expected = 0;
    for (int i = 0; i < 20; i++) {
      int len = 6 * (1 + i % 6);
      expected += (len - 1 + 15) / 16;
    }
    assertThat(first).hasSize(expected);
    Map<String, Integer> chunks = new HashMap<>();
    for (GenericRecord g : first) {
      chunks.merge(g.get("promptId").toString(), 1, Integer::sum);
      assertThat(chunks.get(g.get("promptId").toString()))
          .isLessThanOrEqualTo((Integer) g.get("chunkCount"));
      assertThat(g.get("runId").toString()).isEqualTo("r1");
    }
    assertThat(chunks).hasSize(20);
    try (Stream<Path> files = Files.list(out)) {
      assertThat(files.filter(p -> p.toString().endsWith(".parquet")).count()).isGreaterThan(1);
    }
    assertThat(out.resolve("_SUCCESS")).exists();
    assertThat(Files.readString(out.resolve("_config.json"))).contains("\"run_id\": \"r1\"");
    List<String> rejects = Files.readAllLines(out.resolve("_rejects.jsonl"));
    assertThat(rejects).hasSize(4);
    assertThat(String.join("\n", rejects))
        .contains("\"prompt_id\":\"bad\",\"reason\":\"UNTOKENIZABLE\"")
        .contains("\"prompt_id\":\"long\",\"reason\":\"OVER_LENGTH\"")
        .contains("unknown key colour")
        .contains("prompts.jsonl:24");

    assertThat(TeacherServiceMain.execute(args)).isZero();
    assertThat(TestOutputs.readAll(out)).hasSize(expected);
  }

  @Test
  void torchScriptTeacherLabelsThroughTheEntryPoint() throws Exception {
    Path input = tmp.resolve("p.jsonl");
    Files.writeString(
        input,
        "{\"prompt_id\":\"a\",\"text\":\"the cat sat on the mat.\"}\n"
            + "{\"prompt_id\":\"b\",\"text\":\"hello, world\"}\n");
    Path out = tmp.resolve("ts-out");
    assertThat(
            TeacherServiceMain.execute(
                "batch",
                "--torchscript",
                "src/test/resources/torchscript",
                "--context-tokens",
                "64",
                "--top-k",
                "4",
                "--input",
                input.toString(),
                "--output",
                out.toString(),
                "--run-id",
                "ts"))
        .isZero();
    List<GenericRecord> records = TestOutputs.readAll(out);
    assertThat(records).hasSize(2);
    for (GenericRecord g : records) {
      GenericRecord prov = (GenericRecord) g.get("provenance");
      // HfTokenizer's id: hf-<vocab size>-<sha256 prefix> of the folder's tokenizer.json.
      assertThat(prov.get("tokenizerId").toString())
          .isEqualTo("hf-29-" + prov.get("tokenizerSha256").toString().substring(0, 12));
      assertThat((Integer) prov.get("vocabSize")).isEqualTo(29);
    }
  }

  @Test
  void parquetPromptsAreReadLikeJsonl() throws Exception {
    Path ckpt = tmp.resolve("teacher-pq");
    TestTeachers.tinyCheckpoint(ckpt, Map.of());
    Path in = tmp.resolve("prompts");
    Files.createDirectories(in);
    org.apache.hadoop.conf.Configuration conf = new Configuration();
    try (var w =
        org.apache.parquet.avro.AvroParquetWriter.<Prompt>builder(
                org.apache.parquet.hadoop.util.HadoopOutputFile.fromPath(
                    new org.apache.hadoop.fs.Path(in.resolve("part-0.parquet").toString()), conf))
            .withSchema(Prompt.getClassSchema())
            .withConf(conf)
            .build()) {
      for (int i = 0; i < 5; i++) {
        w.write(
            Prompt.newBuilder()
                .setPromptId("q" + i)
                .setRunId("ignored")
                .setSource("pq")
                .setText("abc def ghi jkl mno pqr".substring(0, 5 + 3 * i))
                .build());
      }
    }
    Files.writeString(in.resolve("_SUCCESS"), "");
    Path out = tmp.resolve("pq-out");
    assertThat(
            TeacherServiceMain.execute(
                TestTeachers.labelArgs("batch", ckpt, in, out, "pq", "--chunk-positions", "16")))
        .isZero();
    List<GenericRecord> records = TestOutputs.readAll(out);
    assertThat(records)
        .extracting(g -> g.get("promptId").toString())
        .containsExactlyInAnyOrder("q0", "q1", "q2", "q3", "q4");
    assertThat(records).allSatisfy(g -> assertThat(g.get("source").toString()).isEqualTo("pq"));
  }

  @Test
  void questionsGetSampledRationalesWithAnswersInBatchMode() throws Exception {
    Path ckpt = tmp.resolve("teacher-cot");
    TestTeachers.tinyCheckpoint(ckpt, Map.of());
    Path input = tmp.resolve("questions.jsonl");
    Files.writeString(
        input,
        "{\"prompt_id\":\"q0\",\"text\":\"abc\",\"gold_answer\":\"x\"}\n"
            + "{\"prompt_id\":\"q1\",\"text\":\"hello\",\"num_rationales\":3}\n"
            + "{\"prompt_id\":\"q2\",\"text\":\"plain text\",\"num_rationales\":0}\n"
            + "{\"prompt_id\":\"q3\",\"text\":\"abc\",\"num_rationales\":5}\n"
            + "{\"prompt_id\":\"q4\",\"text\":\"abc\",\"num_rationales\":1.5}\n");
    Path out = tmp.resolve("cot-out");
    assertThat(
            TeacherServiceMain.execute(
                TestTeachers.labelArgs(
                    "batch",
                    ckpt,
                    input,
                    out,
                    "cot",
                    "--chunk-positions",
                    "16",
                    "--rationales",
                    "2",
                    "--rationales-max",
                    "3",
                    "--rationale-template",
                    "q %s a",
                    "--rationale-temperature",
                    "1",
                    "--rationale-max-tokens",
                    "6",
                    "--rationale-answer-pattern",
                    "([a-z]) ")))
        .isZero();
    Map<String, GenericRecord> byId = new HashMap<>();
    for (GenericRecord g : TestOutputs.readAll(out)) {
      byId.put(g.get("promptId").toString(), g);
    }
    assertThat(byId.keySet()).containsExactlyInAnyOrder("q0", "q1", "q2");
    Map<String, Integer> want = Map.of("q0", 2, "q1", 3, "q2", 0);
    Map<String, String> questions = Map.of("q0", "abc", "q1", "hello", "q2", "plain text");
    Pattern answer = Pattern.compile("([a-z]) ");
    try (LocalTeacher t = TestTeachers.tiny(16, 4, 2f)) {
      for (Map.Entry<String, Integer> e : want.entrySet()) {
        GenericRecord g = byId.get(e.getKey());
        List<?> rationales = (List<?>) g.get("rationales");
        assertThat(rationales).as(e.getKey()).hasSize(e.getValue());
        int[] start = t.encode("q " + questions.get(e.getKey()) + " a");
        for (Object o : rationales) {
          GenericRecord r = (GenericRecord) o;
          List<?> ids = (List<?>) r.get("tokenIds");
          assertThat(ids.size()).isBetween(start.length + 1, start.length + 6);
          for (int i = 0; i < start.length; i++) {
            assertThat(((Number) ids.get(i)).intValue()).isEqualTo(start[i]);
          }
          Matcher m = answer.matcher(r.get("text").toString());
          assertThat(r.get("answer") == null ? null : r.get("answer").toString())
              .isEqualTo(m.find() ? m.group(1) : null);
          assertThat(r.get("softLabels")).isNotNull();
        }
      }
    }
    assertThat(byId.get("q0").get("goldAnswer").toString()).isEqualTo("x");
    String rejects = Files.readString(out.resolve("_rejects.jsonl"));
    assertThat(rejects)
        .contains("\"prompt_id\":\"q3\",\"reason\":\"RATIONALES_REFUSED\"")
        .contains("num_rationales must be an integer");
    assertThat(Files.readString(out.resolve("_config.json")))
        .contains("\"rationale_template\": \"q %s a\"");
  }

  @Test
  void usageErrorsExitWithTwo() {
    assertThat(TeacherServiceMain.execute("batch", "--input", "x")).isEqualTo(2);
    assertThat(TeacherServiceMain.execute("serve", "--checkpoint", "x", "--remote-url", "http://h"))
        .isEqualTo(2);
  }
}
