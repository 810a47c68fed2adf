package dev.distill.deploy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The first steps of the nightly chain for the issue 15 ITs, through the {@code distill} command
 * line: a tiny random char-level GPT teacher (context {@value #BLOCK}) saved as a checkpoint with
 * its tokenizer file, JSONL prompts cut from the bundled Shakespeare text, {@code distill label}
 * with extra options, {@code distill curate} on local Spark.
 */
record CharTeacherRun(Path checkpoint, Path tokenizer, Path prompts) {
  static final int BLOCK = 32;

  /** {@code count} prompts of 40 characters from the corpus, and a teacher for their characters. */
  static CharTeacherRun create(Path dir, int count) throws IOException {
    String text;
    try (InputStream in = CharTeacherRun.class.getResourceAsStream("/corpus/tinyshakespeare.txt")) {
      text = new String(in.readNBytes(count * 140 + 40), StandardCharsets.UTF_8);
    }
    CharTokenizer tok = CharTokenizer.fromCorpus(text);
    Path ckpt = dir.resolve("teacher");
    try (LanguageModel lm =
        LanguageModel.create(new GptConfig(tok.vocabSize(), BLOCK, 1, 2, 16, 0f), tok, 3L)) {
      Checkpoints.save(lm, ckpt, Map.of());
    }
    Path tokFile = dir.resolve("tokenizer.json");
    tok.save(tokFile);
    StringBuilder jsonl = new StringBuilder();
    for (int i = 0; i < count; i++) {
      JsonObject o = new JsonObject();
      o.addProperty("prompt_id", "p" + i);
      o.addProperty("text", text.substring(i * 140, i * 140 + 40));
      jsonl.append(o).append('\n');
    }
    Path input = dir.resolve("prompts.jsonl");
    Files.writeString(input, jsonl);
    return new CharTeacherRun(ckpt, tokFile, input);
  }

  /** {@code distill label} of the prompts into {@code out} with {@code extra} options. */
  Path label(Path out, String... extra) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "label",
                "--checkpoint",
                checkpoint.toString(),
                "--input",
                prompts.toString(),
                "--output",
                out.toString(),
                "--run-id",
                "it"));
    args.addAll(List.of(extra));
    assertThat(DistillCli.execute(args.toArray(String[]::new))).isZero();
    return out;
  }

  /** {@code distill curate} of {@code labelled} into {@code out}; the report's text. */
  static String curate(Path labelled, Path out) throws IOException {
    Path report = out.resolveSibling(out.getFileName() + "-report.json");
    // Tiny data: Spark's 200 default shuffle partitions would be 200 empty tasks per stage.
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
                  out.toString(),
                  "--report",
                  report.toString()))
          .isZero();
    } finally {
      System.clearProperty("spark.sql.shuffle.partitions");
    }
    return Files.readString(report);
  }

  /** The train losses {@code distill train --output out} logged, in order. */
  static List<Double> trainLosses(Path out) throws IOException {
    List<Double> losses = new ArrayList<>();
    for (String line :
        Files.readAllLines(out.resolveSibling(out.getFileName() + ".metrics.jsonl"))) {
      JsonObject o = JsonParser.parseString(line).getAsJsonObject();
      if (o.has("train_loss") && !o.get("train_loss").isJsonNull()) {
        losses.add(o.get("train_loss").getAsDouble());
      }
    }
    return losses;
  }

  /** An exit code and what the command wrote to standard error. */
  record Outcome(int code, String stderr) {}

  /** {@code distill args...} with its standard error captured. */
  static Outcome execute(String... args) {
    PrintStream err = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      int code = DistillCli.execute(args);
      return new Outcome(code, captured.toString(StandardCharsets.UTF_8));
    } finally {
      System.setErr(err);
    }
  }
}
