package dev.distill.models.tokenizer;

import static dev.distill.models.tokenizer.HfFixtures.BPE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizersTest {

  @Test
  void aCharTokenizerFileLoadsAsCharTokenizer(@TempDir Path dir) throws IOException {
    CharTokenizer c = CharTokenizer.fromCorpus("Hello, world");
    c.saveTo(dir);
    try (Tokenizer t = Tokenizers.load(dir)) {
      assertThat(t).isInstanceOf(CharTokenizer.class).isEqualTo(c);
      assertThat(t.sha256()).isEqualTo(c.sha256());
      assertThat(t.encode("world")).containsExactly(c.encode("world"));
    }
  }

  @Test
  void aHuggingFaceFolderLoadsAsHfTokenizer() throws IOException {
    try (Tokenizer t = Tokenizers.load(BPE)) {
      assertThat(t).isInstanceOf(HfTokenizer.class);
      assertThat(t.vocabSize()).isEqualTo(660);
      assertThat(t.specialTokens().eos()).hasValue(656);
    }
  }

  @Test
  void aFileOfNeitherKindFailsNamingTheFileAndWhy(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("tokenizer.json");
    Files.writeString(file, "{\"type\":\"sentencepiece\",\"pieces\":[]}");
    assertThatThrownBy(() -> Tokenizers.load(dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(file.toString())
        .hasMessageContaining("neither a char tokenizer")
        .hasMessageContaining("sentencepiece");
    Files.writeString(file, "[1, 2, 3]");
    assertThatThrownBy(() -> Tokenizers.load(dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(file.toString())
        .hasMessageContaining("not a JSON object");
    Files.writeString(file, "{\"type\":\"char\",\"vocab\":");
    assertThatThrownBy(() -> Tokenizers.load(dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(file.toString())
        .hasMessageContaining("not valid JSON");
  }

  @Test
  void aFolderWithoutTokenizerJsonFailsNamingIt(@TempDir Path dir) {
    assertThatThrownBy(() -> Tokenizers.load(dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("no tokenizer.json in " + dir);
  }

  @Test
  void aBrokenCharTokenizerFailsAsACharTokenizer(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("tokenizer.json"), "{\"type\":\"char\",\"vocab\":\"ba\"}");
    assertThatThrownBy(() -> Tokenizers.load(dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("not sorted");
  }

  @Test
  void requireSameAcceptsEqualTokenizersAndRefusesOthersNamingBoth(@TempDir Path dir)
      throws IOException {
    CharTokenizer a = CharTokenizer.fromCorpus("abc");
    assertThatCode(() -> Tokenizers.requireSame(a, CharTokenizer.fromCorpus("cab")))
        .doesNotThrowAnyException();
    try (HfTokenizer teacher = HfTokenizer.load(BPE)) {
      assertThatThrownBy(() -> Tokenizers.requireSame(teacher, a))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("student tokenizer " + a.id())
          .hasMessageContaining(a.sha256())
          .hasMessageContaining("differs from the teacher's " + teacher.id())
          .hasMessageContaining(teacher.sha256())
          .hasMessageContaining("cross-tokenizer distillation is not enabled");
      teacher.saveTo(dir);
      try (Tokenizer copy = Tokenizers.load(dir)) {
        assertThatCode(() -> Tokenizers.requireSame(teacher, copy)).doesNotThrowAnyException();
      }
    }
  }
}
