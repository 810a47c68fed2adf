package dev.distill.models.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CharTokenizerTest {

  @Test
  void vocabularyIsDistinctCharsSortedByCodePoint() {
    CharTokenizer t = CharTokenizer.fromCorpus("hello world");
    assertThat(t.vocabulary()).isEqualTo(" dehlorw");
    assertThat(t.vocabSize()).isEqualTo(8);
    assertThat(t.encode("dew")).containsExactly(1, 2, 7);
  }

  @Test
  void encodeThenDecodeRoundTrips() {
    String corpus = "First Citizen:\nBefore we proceed any further, hear me speak. é😀";
    CharTokenizer t = CharTokenizer.fromCorpus(corpus);
    assertThat(t.decode(t.encode(corpus))).isEqualTo(corpus);
    assertThat(t.encode("😀")).hasSize(1);
  }

  @Test
  void unknownCharacterIsNamedWithItsIndex() {
    CharTokenizer t = CharTokenizer.fromCorpus("abc");
    assertThatThrownBy(() -> t.encode("abxcz"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'x'")
        .hasMessageContaining("index 2");
  }

  @Test
  void decodeRejectsIdsOutsideTheVocabulary() {
    CharTokenizer t = CharTokenizer.fromCorpus("abc");
    assertThatThrownBy(() -> t.decode(new int[] {0, 3}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("3");
  }

  @Test
  void shaIsSha256OfTheVocabularyAndIdIsDerivedFromIt() throws Exception {
    CharTokenizer t = CharTokenizer.fromCorpus("banana band");
    String expected =
        HexFormat.of()
            .formatHex(
                MessageDigest.getInstance("SHA-256")
                    .digest(" abdn".getBytes(StandardCharsets.UTF_8)));
    assertThat(t.sha256()).isEqualTo(expected);
    assertThat(t.id()).isEqualTo("char-5-" + expected.substring(0, 12));
  }

  @Test
  void sameCharacterSetGivesSameIdentityWhateverTheCorpus() {
    CharTokenizer a = CharTokenizer.fromCorpus("abcabc");
    CharTokenizer b = CharTokenizer.fromCorpus("cba");
    CharTokenizer c = CharTokenizer.fromCorpus("abcd");
    assertThat(a.sha256()).isEqualTo(b.sha256());
    assertThat(a.id()).isEqualTo(b.id());
    assertThat(a).isEqualTo(b);
    assertThat(c.sha256()).isNotEqualTo(a.sha256());
  }

  @Test
  void saveThenLoadGivesTheSameTokenizer(@TempDir Path dir) throws IOException {
    CharTokenizer t = CharTokenizer.fromCorpus("Hello <World> & \"quotes\"\n\t\\");
    Path file = dir.resolve("tokenizer.json");
    t.save(file);
    CharTokenizer loaded = CharTokenizer.load(file);
    assertThat(loaded.vocabulary()).isEqualTo(t.vocabulary());
    assertThat(loaded.sha256()).isEqualTo(t.sha256());
  }

  @Test
  void loadRejectsAVocabularyThatDoesNotMatchItsSha(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("tokenizer.json");
    CharTokenizer.fromCorpus("abc").save(file);
    Files.writeString(file, Files.readString(file).replace("\"abc\"", "\"abd\""));
    assertThatThrownBy(() -> CharTokenizer.load(file))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("sha256");
  }

  @Test
  void emptyCorpusIsRejected() {
    assertThatThrownBy(() -> CharTokenizer.fromCorpus(""))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void throughTheInterfaceTokensAreSingleCharactersAndThereAreNoSpecialTokens() {
    Tokenizer t = CharTokenizer.fromCorpus("hello 😀");
    assertThat(t.specialTokens()).isEqualTo(Tokenizer.SpecialTokens.NONE);
    assertThat(t.chatTemplate()).isEmpty();
    assertThat(t.tokenId("h")).hasValue(t.encode("h")[0]);
    assertThat(t.tokenId("😀")).hasValue(t.vocabSize() - 1);
    assertThat(t.tokenId("he")).isEmpty();
    assertThat(t.tokenId("z")).isEmpty();
    assertThat(t.tokenId("")).isEmpty();
    for (int i = 0; i < t.vocabSize(); i++) {
      assertThat(t.tokenId(t.token(i))).hasValue(i);
    }
    assertThatThrownBy(() -> t.token(t.vocabSize())).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void saveToWritesTokenizerJsonInTheCharFormat(@TempDir Path dir) throws IOException {
    CharTokenizer t = CharTokenizer.fromCorpus("abc");
    Path sub = dir.resolve("ckpt");
    t.saveTo(sub);
    assertThat(CharTokenizer.load(sub.resolve("tokenizer.json"))).isEqualTo(t);
    assertThat(Files.readString(sub.resolve("tokenizer.json")))
        .isEqualTo("{\"type\":\"char\",\"vocab\":\"abc\",\"sha256\":\"" + t.sha256() + "\"}");
  }
}
