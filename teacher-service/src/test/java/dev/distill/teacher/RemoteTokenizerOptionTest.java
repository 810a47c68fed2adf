package dev.distill.teacher;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.models.tokenizer.HfTokenizer;
import dev.distill.models.tokenizer.Tokenizer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --tokenizer} of a remote teacher: a folder, a Hugging Face tokenizer.json, a char file.
 */
class RemoteTokenizerOptionTest {
  @TempDir Path tmp;

  @Test
  void aFolderOrItsTokenizerJsonGiveTheHuggingFaceTokenizerWithItsTemplate() throws Exception {
    try (Tokenizer byFolder = TeacherServiceMain.TeacherOptions.remoteTokenizer(HfFixtures.QWEN2);
        Tokenizer byFile =
            TeacherServiceMain.TeacherOptions.remoteTokenizer(
                HfFixtures.QWEN2.resolve("tokenizer.json"))) {
      assertThat(byFolder).isInstanceOf(HfTokenizer.class);
      assertThat(byFolder.chatTemplate()).isPresent();
      assertThat(byFile.sha256()).isEqualTo(byFolder.sha256());
    }
  }

  @Test
  void aCharTokenizerFileIsReadAsBefore() throws Exception {
    CharTokenizer chars = CharTokenizer.fromCorpus("abc ");
    Path file = tmp.resolve("chars.json");
    chars.save(file);
    try (Tokenizer t = TeacherServiceMain.TeacherOptions.remoteTokenizer(file)) {
      assertThat(t).isInstanceOf(CharTokenizer.class);
      assertThat(t.sha256()).isEqualTo(chars.sha256());
    }
  }
}
