package dev.distill.teacher.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.models.tokenizer.HfTokenizer;
import dev.distill.models.tokenizer.Tokenizer;
import dev.distill.teacher.HfFixtures;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Token strings of endpoints to ids, on GPT-2's real vocabulary (models' fixture). */
class TokenStringsTest {
  @TempDir static Path tmp;
  static HfTokenizer gpt2;
  static TokenStrings strings;

  @BeforeAll
  static void load() throws IOException {
    gpt2 = HfFixtures.realGpt2(tmp.resolve("gpt2"));
    strings = new TokenStrings(gpt2);
  }

  @AfterAll
  static void close() {
    gpt2.close();
  }

  @Test
  void decodedTextMapsToTheByteLevelEntry() {
    assertThat(strings.byteLevel()).isTrue();
    assertThat(strings.id(" world")).isEqualTo(995);
    assertThat(strings.id("Hello")).isEqualTo(15496);
    assertThat(strings.id("<|endoftext|>")).isEqualTo(50256);
    assertThat(strings.id("\n")).isEqualTo(gpt2.tokenId("Ċ").getAsInt());
    assertThat(strings.id("token_id:995")).isEqualTo(995);
  }

  @Test
  void aLatinOneCharacterIsItsUtf8EntryNotTheSingleByteEntrySpelledTheSame() {
    // GPT-2's entry "é" is the byte 0xE9 (part of a character); the text "é" is the entry "Ã©".
    int byteE9 = gpt2.tokenId("é").getAsInt();
    int eAcute = gpt2.tokenId("Ã©").getAsInt();
    assertThat(strings.id("é")).isEqualTo(eAcute).isNotEqualTo(byteE9);
    assertThat(gpt2.decode(new int[] {eAcute})).isEqualTo("é");
  }

  @Test
  void bytesFormNamesAPartialCharacterAndTextWritesIt() {
    int partial =
        gpt2.tokenId(TokenStrings.byteLevelSpelling(new byte[] {(byte) 0xe2, (byte) 0x80}))
            .getAsInt();
    assertThat(strings.id("bytes:\\xe2\\x80")).isEqualTo(partial);
    assertThat(strings.text(partial)).isEqualTo("bytes:\\xe2\\x80");
    assertThat(strings.bytes(partial)).containsExactly((byte) 0xe2, (byte) 0x80);
    assertThat(strings.text(995)).isEqualTo(" world");
    for (int id : new int[] {0, 995, 15496, 50256, partial, gpt2.tokenId("é").getAsInt()}) {
      assertThat(strings.id(strings.text(id))).as("id %d", id).isEqualTo(id);
    }
  }

  @Test
  void aStringNoIdDecodesToIsRefusedByName() {
    assertThatThrownBy(() -> strings.id(" worldqqzzxx"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("\" worldqqzzxx\"")
        .hasMessageContaining(gpt2.id());
    assertThatThrownBy(() -> strings.id("\uFFFD"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("U+FFFD");
    assertThatThrownBy(() -> strings.id("bytes:\\xZZ"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("malformed");
  }

  @Test
  void aCharTokenizerMapsEachCharacterAndNothingElse() {
    Tokenizer chars = CharTokenizer.fromCorpus("ab c");
    TokenStrings s = new TokenStrings(chars);
    assertThat(s.byteLevel()).isFalse();
    assertThat(s.id(" ")).isEqualTo(chars.encode(" ")[0]);
    assertThat(s.id("c")).isEqualTo(chars.encode("c")[0]);
    assertThatThrownBy(() -> s.id("ab")).hasMessageContaining("\"ab\"");
    assertThatThrownBy(() -> s.id("bytes:\\x61")).hasMessageContaining("byte-level");
  }
}
