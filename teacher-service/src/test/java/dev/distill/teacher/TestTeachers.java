package dev.distill.teacher;

import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.LocalTeacher;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Small real DJL teachers for tests: seeded, so every JVM (child processes too) builds the same.
 */
public final class TestTeachers {
  public static final String ALPHABET = "abcdefghijklmnopqrstuvwxyz ,.";

  private TestTeachers() {}

  public static LocalTeacher tiny(int blockSize, int k, float temperature) {
    return new LocalTeacher(
        "tiny-gpt", model(ALPHABET, blockSize, 2, 16, 11), new LabelingConfig(k, temperature, 64));
  }

  /**
   * JSONL of {@code n} prompts {@code p0, p1, ...}, prompt i's text {@code "abc de"} repeated
   * {@code 1 + i % cycle} times (texts of several lengths, all in {@link #ALPHABET}).
   */
  public static String jsonlPrompts(int n, int cycle) {
    StringBuilder jsonl = new StringBuilder();
    for (int i = 0; i < n; i++) {
      jsonl.append(
          "{\"prompt_id\":\"p" + i + "\",\"text\":\"" + "abc de".repeat(1 + i % cycle) + "\"}\n");
    }
    return jsonl.toString();
  }

  /**
   * The command line that labels {@code input} into {@code output} with the checkpoint at top-4:
   * {@code command --checkpoint C --top-k 4 --input I --output O --run-id R}, then {@code more}.
   */
  public static String[] labelArgs(
      String command, Path checkpoint, Path input, Path output, String runId, String... more) {
    List<String> args =
        new ArrayList<>(
            List.of(
                command,
                "--checkpoint",
                checkpoint.toString(),
                "--top-k",
                "4",
                "--input",
                input.toString(),
                "--output",
                output.toString(),
                "--run-id",
                runId));
    args.addAll(List.of(more));
    return args.toArray(String[]::new);
  }

  /**
   * A one-layer random GPT over the characters of {@code corpus}, without dropout; the caller
   * closes it.
   */
  public static LanguageModel model(String corpus, int blockSize, int heads, int width, long seed) {
    CharTokenizer tok = CharTokenizer.fromCorpus(corpus);
    return LanguageModel.create(
        new GptConfig(tok.vocabSize(), blockSize, 1, heads, width, 0f), tok, seed);
  }

  /**
   * Saves the {@link #tiny} teacher (context 16) as a checkpoint at {@code dir} with {@code
   * metadata}; returns {@code dir}.
   */
  public static Path tinyCheckpoint(Path dir, Map<String, String> metadata) throws IOException {
    try (LocalTeacher t = tiny(16, 4, 2f)) {
      Checkpoints.save(t.model(), dir, metadata);
    }
    return dir;
  }
}
