package dev.distill.teacher;

import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.LocalTeacher;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * Small real DJL teachers for tests: seeded, so every JVM (child processes too) builds the same.
 */
public final class TestTeachers {
  public static final String ALPHABET = "abcdefghijklmnopqrstuvwxyz ,.";

  private TestTeachers() {}

  public static LocalTeacher tiny(int blockSize, int k, float temperature) {
    CharTokenizer tok = CharTokenizer.fromCorpus(ALPHABET);
    LanguageModel lm =
        LanguageModel.create(new GptConfig(tok.vocabSize(), blockSize, 1, 2, 16, 0f), tok, 11);
    return new LocalTeacher("tiny-gpt", lm, new LabelingConfig(k, temperature, 64));
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
