package dev.distill.deploy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.avro.generic.GenericRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sampled soft labels end to end through the {@code distill} command line (issue 15, ask 5): a real
 * (tiny, random) GPT teacher labels JSONL prompts with {@code --labels sampled:8} (codec v2), the
 * real CurateJob validates and curates them on local Spark, and {@code distill train} trains a
 * student on them with the sampled-label KD term; its loss falls.
 */
class SampledLabelsTrainIT {
  static final int BLOCK = 32;

  @TempDir Path tmp;

  @Test
  void sampledLabelsAreCuratedAndTrainAStudentWhoseLossFalls() throws Exception {
    String text;
    try (InputStream in =
        SampledLabelsTrainIT.class.getResourceAsStream("/corpus/tinyshakespeare.txt")) {
      text = new String(in.readNBytes(12_000), StandardCharsets.UTF_8);
    }
    CharTokenizer tok = CharTokenizer.fromCorpus(text);
    Path ckpt = tmp.resolve("teacher");
    try (LanguageModel lm =
        LanguageModel.create(new GptConfig(tok.vocabSize(), BLOCK, 1, 2, 16, 0f), tok, 3L)) {
      Checkpoints.save(lm, ckpt, Map.of());
    }
    Path tokFile = tmp.resolve("tokenizer.json");
    tok.save(tokFile);
    // 80 prompts of 40 characters (chunked at the teacher's context of 32: reassembled by curate)
    StringBuilder jsonl = new StringBuilder();
    for (int i = 0; i < 80; i++) {
      JsonObject o = new JsonObject();
      o.addProperty("prompt_id", "p" + i);
      o.addProperty("text", text.substring(i * 140, i * 140 + 40));
      jsonl.append(o).append('\n');
    }
    Path input = tmp.resolve("prompts.jsonl");
    Files.writeString(input, jsonl);
    Path labelled = tmp.resolve("teacher-outputs");

    int label =
        DistillCli.execute(
            "label",
            "--checkpoint",
            ckpt.toString(),
            "--labels",
            "sampled:8",
            "--temperature",
            "1.0",
            "--input",
            input.toString(),
            "--output",
            labelled.toString(),
            "--run-id",
            "sampled-it");
    assertThat(label).isZero();
    List<GenericRecord> records = LabelCommandIT.readAll(labelled);
    assertThat(records).isNotEmpty();
    for (GenericRecord r : records) {
      GenericRecord prov = (GenericRecord) r.get("provenance");
      assertThat(prov.get("codec").toString()).isEqualTo("sampled-counts");
      assertThat(prov.get("codecVersion")).isEqualTo(2);
      assertThat(prov.get("topK")).isEqualTo(8);
    }

    Path curated = tmp.resolve("curated");
    Path report = tmp.resolve("curation-report.json");
    System.setProperty("spark.sql.shuffle.partitions", "2");
    int curate;
    try {
      curate =
          DistillCli.execute(
              "curate",
              "--master",
              "local[1]",
              "--input",
              labelled.toString(),
              "--output",
              curated.toString(),
              "--report",
              report.toString());
    } finally {
      System.clearProperty("spark.sql.shuffle.partitions");
    }
    assertThat(curate).isZero();
    // every prompt kept: the validator accepted codec v2 and chunks were joined
    assertThat(Files.readString(report)).containsPattern("\"kept\": *80\\b");

    Path out = tmp.resolve("student");
    int train =
        DistillCli.execute(
            "train",
            "--curated",
            curated.toString(),
            "--tokenizer",
            tokFile.toString(),
            "--output",
            out.toString(),
            "--set",
            "student.steps=60",
            "--set",
            "student.batch=8",
            "--set",
            "model.block-size=" + BLOCK,
            "--set",
            "train.checkpoint-every=1000");
    assertThat(train).isZero();
    List<Double> losses = new ArrayList<>();
    for (String line : Files.readAllLines(tmp.resolve("student.metrics.jsonl"))) {
      JsonObject o = JsonParser.parseString(line).getAsJsonObject();
      if (o.has("train_loss") && !o.get("train_loss").isJsonNull()) {
        losses.add(o.get("train_loss").getAsDouble());
      }
    }
    System.out.println("[SampledLabelsTrainIT] train losses " + losses);
    assertThat(losses).hasSizeGreaterThan(2);
    assertThat(losses.get(losses.size() - 1)).isLessThan(losses.get(0) - 0.1);
  }

  @Test
  void sampledLabelsRefuseADivergenceTheyDoNotEstimate() throws Exception {
    CharTokenizer tok = CharTokenizer.fromCorpus("abcdefghijklmnopqrstuvwxyz ,.");
    Path ckpt = tmp.resolve("teacher");
    try (LanguageModel lm =
        LanguageModel.create(new GptConfig(tok.vocabSize(), BLOCK, 1, 2, 16, 0f), tok, 3L)) {
      Checkpoints.save(lm, ckpt, Map.of());
    }
    Path tokFile = tmp.resolve("tokenizer.json");
    tok.save(tokFile);
    StringBuilder jsonl = new StringBuilder();
    for (int i = 0; i < 20; i++) {
      jsonl.append("{\"prompt_id\":\"q").append(i).append("\",\"text\":\"the cat ");
      jsonl.append("sat on the mat number ".substring(0, 5 + i % 15)).append("\"}\n");
    }
    Path input = tmp.resolve("prompts.jsonl");
    Files.writeString(input, jsonl);
    Path labelled = tmp.resolve("teacher-outputs");
    assertThat(
            DistillCli.execute(
                "label",
                "--checkpoint",
                ckpt.toString(),
                "--labels",
                "sampled:4",
                "--input",
                input.toString(),
                "--output",
                labelled.toString(),
                "--run-id",
                "r"))
        .isZero();
    Path curated = tmp.resolve("curated");
    System.setProperty("spark.sql.shuffle.partitions", "2");
    try {
      assertThat(
              DistillCli.execute(
                  "curate",
                  "--master",
                  "local[1]",
                  "--input",
                  labelled.toString(),
                  "--output",
                  curated.toString(),
                  "--report",
                  tmp.resolve("r.json").toString()))
          .isZero();
    } finally {
      System.clearProperty("spark.sql.shuffle.partitions");
    }
    PrintStream err = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    int code;
    try {
      code =
          DistillCli.execute(
              "train",
              "--curated",
              curated.toString(),
              "--tokenizer",
              tokFile.toString(),
              "--output",
              tmp.resolve("student").toString(),
              "--set",
              "student.steps=2",
              "--set",
              "student.batch=4",
              "--set",
              "model.block-size=" + BLOCK,
              "--set",
              "train.divergence=reverse_kl");
    } finally {
      System.setErr(err);
    }
    assertThat(code).isNotZero();
    assertThat(captured.toString(StandardCharsets.UTF_8)).contains("forward KL only");
  }
}
