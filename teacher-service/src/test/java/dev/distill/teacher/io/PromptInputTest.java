package dev.distill.teacher.io;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.schemas.avro.Prompt;
import dev.distill.teacher.labeling.PromptLabeler.Reason;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.avro.AvroParquetWriter;
import org.apache.parquet.hadoop.util.HadoopOutputFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Batch inputs (JSONL, Parquet): one bad line is a named reject, never an abort (issue 17). */
class PromptInputTest {
  @TempDir Path tmp;

  private static final List<String> FIELDS =
      List.of("prompt_id", "text", "source", "gold_answer", "num_rationales");

  /** A JSON value of each type but string, and a valid value for each field. */
  private static final Map<String, String> TYPES =
      Map.of(
          "null", "null",
          "number", "7",
          "object", "{\"a\":1}",
          "array", "[\"x\"]",
          "bool", "true",
          "string", "\"s\"");

  private static final Map<String, String> VALID =
      Map.of(
          "prompt_id", "\"ok\"",
          "text", "\"hello\"",
          "source", "\"src\"",
          "gold_answer", "\"42\"",
          "num_rationales", "2");

  /** What a value of a type in a field is: null in an optional field means absent. */
  private static Reason expected(String field, String type) {
    boolean required = field.equals("prompt_id") || field.equals("text");
    if (type.equals("null")) {
      return required ? Reason.MISSING_FIELD : null;
    }
    if (field.equals("num_rationales")) {
      return type.equals("number") ? null : Reason.WRONG_TYPE;
    }
    return type.equals("string") ? null : Reason.WRONG_TYPE;
  }

  @Test
  void eachJsonTypeInEachFieldIsAcceptedOrANamedRejectAndNeverSinksTheBatch() throws Exception {
    StringBuilder in = new StringBuilder();
    int line = 0;
    for (String field : FIELDS) {
      for (Map.Entry<String, String> type : TYPES.entrySet()) {
        line++;
        String id = field + "-" + type.getKey();
        StringBuilder o = new StringBuilder("{");
        for (String f : FIELDS) {
          String v =
              f.equals(field)
                  ? type.getValue()
                  : f.equals("prompt_id") ? "\"" + id + "\"" : VALID.get(f);
          o.append(o.length() > 1 ? "," : "").append('"').append(f).append("\":").append(v);
        }
        in.append(o).append("}\n");
      }
    }
    // Required fields absent altogether.
    in.append("{\"text\":\"no id\"}\n{\"prompt_id\":\"no-text\"}\n");
    Path file = tmp.resolve("mixed.jsonl");
    Files.writeString(file, in.toString(), StandardCharsets.UTF_8);

    JsonlPrompts.Read read = JsonlPrompts.read(file, "run", "default");

    Map<String, Reason> rejectedByLine = new LinkedHashMap<>();
    for (JsonlPrompts.Rejected r : read.rejected()) {
      String where = r.why().detail().substring(0, r.why().detail().indexOf(": "));
      rejectedByLine.put(where, r.why().reason());
      assertThat(r.why().detail())
          .as("our own sentence, never the parser's")
          .doesNotContain("http")
          .doesNotContain("Exception")
          .startsWith("mixed.jsonl:");
    }
    line = 0;
    int accepted = 0;
    for (String field : FIELDS) {
      for (String type : TYPES.keySet()) {
        line++;
        Reason want = expected(field, type);
        String where = "mixed.jsonl:" + line;
        if (want == null) {
          accepted++;
          assertThat(rejectedByLine).as(field + " = " + type).doesNotContainKey(where);
        } else {
          assertThat(rejectedByLine).as(field + " = " + type).containsEntry(where, want);
        }
      }
    }
    assertThat(rejectedByLine)
        .containsEntry("mixed.jsonl:" + (line + 1), Reason.MISSING_FIELD)
        .containsEntry("mixed.jsonl:" + (line + 2), Reason.MISSING_FIELD);
    assertThat(read.prompts()).hasSize(accepted);
    assertThat(read.prompts().size() + read.rejected().size()).isEqualTo(line + 2);
    Prompt nullSource =
        read.prompts().stream()
            .filter(p -> p.getPromptId().toString().equals("source-null"))
            .findFirst()
            .orElseThrow();
    assertThat(nullSource.getSource().toString()).isEqualTo("default");
    assertThat(
            read.rejected().stream()
                .filter(r -> r.promptId().equals("text-object"))
                .findFirst()
                .orElseThrow()
                .why()
                .detail())
        .matches("mixed\\.jsonl:\\d+: text must be a string, got an object");
  }

  @Test
  void badJsonIsARejectInOurOwnWordsWithTheColumn() throws Exception {
    Path file = tmp.resolve("bad.jsonl");
    Files.writeString(
        file,
        "{\"prompt_id\":\"a\",\"text\":\"fine\"}\n"
            + "{\"prompt_id\":\"b\",\"text\":\n"
            + "{'prompt_id':'c','text':'single quotes'}\n"
            + "[1,2]\n"
            + "{\"prompt_id\":\"d\",\"text\":\"x\"} trailing\n");
    JsonlPrompts.Read read = JsonlPrompts.read(file, "run", "s");
    assertThat(read.prompts()).extracting(p -> p.getPromptId().toString()).containsExactly("a");
    assertThat(read.rejected()).hasSize(4);
    for (JsonlPrompts.Rejected r : read.rejected()) {
      assertThat(r.why().reason()).isEqualTo(Reason.UNDECODABLE);
      assertThat(r.why().detail()).doesNotContain("http").doesNotContain("Troubleshooting");
    }
    assertThat(read.rejected().get(0).why().detail()).startsWith("bad.jsonl:2: not valid JSON");
    assertThat(read.rejected().get(2).why().detail()).contains("not a JSON object");
  }

  @Test
  void aSecondPromptUnderASeenIdIsADuplicateIdRejectNamingBothLines() throws Exception {
    Path file = tmp.resolve("dup.jsonl");
    Files.writeString(
        file,
        "{\"prompt_id\":\"p1\",\"text\":\"first text\"}\n"
            + "{\"prompt_id\":\"p2\",\"text\":\"other\"}\n"
            + "{\"prompt_id\":\"p1\",\"text\":\"a different text\"}\n"
            + "{\"prompt_id\":\"p2\",\"text\":\"other\"}\n"
            + "{\"prompt_id\":\"p2\",\"text\":\"other\",\"gold_answer\":\"7\"}\n");
    JsonlPrompts.Read read = JsonlPrompts.read(file, "run", "s");
    assertThat(read.prompts())
        .extracting(p -> p.getPromptId() + "=" + p.getText())
        .containsExactly("p1=first text", "p2=other");
    assertThat(read.rejected()).hasSize(3);
    JsonlPrompts.Rejected dup = read.rejected().get(0);
    assertThat(dup.promptId()).isEqualTo("p1");
    assertThat(dup.why().reason()).isEqualTo(Reason.DUPLICATE_ID);
    assertThat(dup.why().detail()).contains("dup.jsonl:3").contains("dup.jsonl:1").contains("text");
    JsonlPrompts.Rejected same = read.rejected().get(1);
    assertThat(same.why().reason()).isEqualTo(Reason.REPEATED_PROMPT);
    assertThat(same.why().detail()).contains("dup.jsonl:4").contains("dup.jsonl:2");
    JsonlPrompts.Rejected gold = read.rejected().get(2);
    assertThat(gold.why().reason()).isEqualTo(Reason.DUPLICATE_ID);
    assertThat(gold.why().detail()).contains("gold_answer");
  }

  @Test
  void parquetRowsWithWrongTypesMissingFieldsOrSeenIdsAreNamedRejects() throws Exception {
    Schema schema =
        SchemaBuilder.record("Row")
            .fields()
            .optionalString("prompt_id")
            .name("text")
            .type()
            .unionOf()
            .nullType()
            .and()
            .stringType()
            .and()
            .longType()
            .endUnion()
            .nullDefault()
            .optionalString("num_rationales")
            .endRecord();
    Path f = tmp.resolve("p.parquet");
    Configuration conf = new Configuration();
    List<Object[]> rows = new ArrayList<>();
    rows.add(new Object[] {"a", "fine", null});
    rows.add(new Object[] {null, "no id", null});
    rows.add(new Object[] {"b", 12L, null});
    rows.add(new Object[] {"c", "text", "3"});
    rows.add(new Object[] {"a", "another text", null});
    rows.add(new Object[] {"d", null, null});
    try (var w =
        AvroParquetWriter.<GenericRecord>builder(
                HadoopOutputFile.fromPath(new org.apache.hadoop.fs.Path(f.toString()), conf))
            .withSchema(schema)
            .withConf(conf)
            .build()) {
      for (Object[] r : rows) {
        GenericRecord g = new GenericData.Record(schema);
        g.put("prompt_id", r[0]);
        g.put("text", r[1]);
        g.put("num_rationales", r[2]);
        w.write(g);
      }
    }
    JsonlPrompts.Read read = ParquetPrompts.read(f.toString(), "run", "s");
    assertThat(read.prompts()).extracting(p -> p.getPromptId().toString()).containsExactly("a");
    assertThat(read.rejected())
        .extracting(r -> r.why().reason())
        .containsExactly(
            Reason.MISSING_FIELD,
            Reason.WRONG_TYPE,
            Reason.WRONG_TYPE,
            Reason.DUPLICATE_ID,
            Reason.MISSING_FIELD);
    assertThat(read.rejected().get(1).why().detail())
        .isEqualTo("p.parquet#2: text must be a string, got a number");
    assertThat(read.rejected().get(3).why().detail())
        .contains("p.parquet#4")
        .contains("p.parquet#0");
  }
}
