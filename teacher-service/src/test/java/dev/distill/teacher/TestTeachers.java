package dev.distill.teacher;

import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.LocalTeacher;

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
}
