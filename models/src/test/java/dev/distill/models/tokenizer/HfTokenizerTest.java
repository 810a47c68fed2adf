package dev.distill.models.tokenizer;

import static dev.distill.models.tokenizer.HfFixtures.BPE;
import static dev.distill.models.tokenizer.HfFixtures.ints;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link HfTokenizer} on the byte-level BPE fixture (400 merges trained on tiny Shakespeare by our
 * Python BPE, {@code src/test/python/train_bpe.py}): DJL's Rust tokenizer must give exactly the
 * Python BPE's ids.
 */
class HfTokenizerTest extends BpeTokenizerFixture {
  static JsonObject expected;

  @BeforeAll
  static void load() throws IOException {
    expected = HfFixtures.expected(BPE);
  }

  @Test
  void encodesEachFixtureStringToThePythonBpeIdsAndTokens() {
    assertThat(expected.getAsJsonArray("encodings")).hasSizeGreaterThanOrEqualTo(9);
    for (JsonElement e : expected.getAsJsonArray("encodings")) {
      JsonObject c = e.getAsJsonObject();
      String text = c.get("text").getAsString();
      int[] ids = bpe.encode(text);
      assertThat(ids).as(text).containsExactly(ints(c.getAsJsonArray("ids")));
      List<String> tokens = Arrays.stream(ids).mapToObj(bpe::token).collect(Collectors.toList());
      List<String> want = new ArrayList<>();
      c.getAsJsonArray("tokens").forEach(t -> want.add(t.getAsString()));
      assertThat(tokens).as(text).isEqualTo(want);
      assertThat(bpe.decode(ids)).isEqualTo(text);
    }
  }

  @Test
  void encodesTheWholeCorpusToThePythonBpeIdsUntruncatedAndDecodesItBack() throws Exception {
    String corpus = HfFixtures.corpus();
    int[] ids = bpe.encode(corpus);
    // DJL truncates to 512 tokens unless told not to: the corpus is 525,118 tokens.
    assertThat(ids.length).isEqualTo(expected.get("corpus_token_count").getAsInt());
    String joined = Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(","));
    assertThat(sha256(joined.getBytes(StandardCharsets.UTF_8)))
        .isEqualTo(expected.get("corpus_ids_sha256").getAsString());
    assertThat(bpe.decode(ids)).isEqualTo(corpus);
  }

  @Test
  void roundTripsTextOutsideTheCorpusByteByByte() {
    String text = "Ünïcödé — 😀 tabs\tand\r\nCRLF, 中文, \u0000 nul";
    assertThat(bpe.decode(bpe.encode(text))).isEqualTo(text);
  }

  @Test
  void vocabularyIsMaxIdPlusOneOverModelAndAddedTokens() {
    assertThat(bpe.vocabSize()).isEqualTo(expected.get("vocab_size").getAsInt()).isEqualTo(660);
    assertThat(bpe.id()).isEqualTo("hf-660-" + bpe.sha256().substring(0, 12));
    for (int i = 0; i < bpe.vocabSize(); i++) {
      assertThat(bpe.tokenId(bpe.token(i))).as("id %d", i).hasValue(i);
    }
  }

  @Test
  void specialTokensComeFromTheConfigFilesAndDecodeAsTheirText() {
    Tokenizer.SpecialTokens s = bpe.specialTokens();
    assertThat(s.bos()).hasValue(656);
    assertThat(s.eos()).hasValue(656);
    assertThat(s.pad()).hasValue(659);
    assertThat(s.unk()).isEmpty();
    JsonObject ids = expected.getAsJsonObject("special_token_ids");
    for (String token : ids.keySet()) {
      int id = ids.get(token).getAsInt();
      assertThat(bpe.tokenId(token)).hasValue(id);
      assertThat(bpe.token(id)).isEqualTo(token);
      assertThat(bpe.encode(token)).containsExactly(id); // never split into bytes
    }
    // Decoding keeps special tokens (no skip_special_tokens).
    assertThat(bpe.decode(new int[] {657, 72, 658, 656}))
        .isEqualTo("<|im_start|>H<|im_end|><|endoftext|>");
  }

  @Test
  void encodingAddsNoSpecialTokens() {
    int[] ids = bpe.encode("Hello world");
    assertThat(ids).doesNotContain(656, 657, 658, 659);
  }

  @Test
  void tokenIdIsAnExactLookupOfByteLevelTokenStrings() {
    assertThat(bpe.tokenId("Ġwor")).hasValue(540);
    assertThat(bpe.tokenId("Ċ")).hasValue(10); // "\n" as GPT-2's bytes_to_unicode spells it
    assertThat(bpe.tokenId("Ġ")).hasValue(32);
    assertThat(bpe.tokenId("H")).hasValue(72);
    assertThat(bpe.token(540)).isEqualTo("Ġwor");
    // Not the vocabulary's spelling: no guess, no normalisation.
    assertThat(bpe.tokenId(" wor")).isEmpty();
    assertThat(bpe.tokenId("\n")).isEmpty();
    assertThat(bpe.tokenId("Hello world")).isEmpty();
    assertThat(bpe.tokenId("")).isEmpty();
    assertThat(bpe.tokenId(null)).isEmpty();
  }

  @Test
  void decodeAndTokenRejectIdsOutsideTheVocabulary() {
    assertThatThrownBy(() -> bpe.decode(new int[] {1, 660}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("660")
        .hasMessageContaining("index 1");
    assertThatThrownBy(() -> bpe.decode(new int[] {-1}))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> bpe.token(660)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void chatTemplateIsTheConfigsChatMl() {
    assertThat(bpe.chatTemplate()).hasValueSatisfying(t -> assertThat(t).contains("<|im_start|>"));
  }

  @Test
  void identityIsSha256OfTheDefiningFilesInTheDocumentedOrder() throws Exception {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.write(Files.readAllBytes(BPE.resolve("tokenizer.json")));
    for (String f : List.of("tokenizer_config.json", "special_tokens_map.json")) {
      b.write(0);
      b.write(f.getBytes(StandardCharsets.UTF_8));
      b.write(0);
      b.write(Files.readAllBytes(BPE.resolve(f)));
    }
    assertThat(bpe.sha256()).isEqualTo(sha256(b.toByteArray()));
    assertThat(bpe.files())
        .containsExactly("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json");
  }

  @Test
  void saveToCopiesTheFilesByteForByteAndLoadsBackTheSameTokenizer(@TempDir Path tmp)
      throws Exception {
    Path out = tmp.resolve("checkpoint/tokenizer");
    bpe.saveTo(out);
    for (String f : bpe.files()) {
      assertThat(Files.readAllBytes(out.resolve(f))).isEqualTo(Files.readAllBytes(BPE.resolve(f)));
    }
    try (Tokenizer back = Tokenizers.load(out)) {
      assertThat(back).isInstanceOf(HfTokenizer.class).isEqualTo(bpe);
      assertThat(back.sha256()).isEqualTo(bpe.sha256());
      assertThat(back.id()).isEqualTo(bpe.id());
      assertThat(back.specialTokens()).isEqualTo(bpe.specialTokens());
      assertThat(back.chatTemplate()).isEqualTo(bpe.chatTemplate());
      assertThat(back.encode("First Citizen:")).containsExactly(bpe.encode("First Citizen:"));
    }
  }

  @Test
  void saveToRefusesAFolderWithAStaleTokenizerFile(@TempDir Path tmp) throws Exception {
    Files.copy(BPE.resolve("tokenizer.json"), tmp.resolve("tokenizer.json"));
    try (HfTokenizer alone = HfTokenizer.load(tmp)) {
      Path out = tmp.resolve("out");
      Files.createDirectories(out);
      Files.writeString(out.resolve("special_tokens_map.json"), "{\"bos_token\":\"H\"}");
      assertThatThrownBy(() -> alone.saveTo(out))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("special_tokens_map.json")
          .hasMessageContaining("not part of tokenizer");
      assertThat(out.resolve("tokenizer.json")).doesNotExist();
    }
  }

  @Test
  void tokenizerJsonAloneHasTheFilesSha256AndNoSpecialTokensOrTemplate(@TempDir Path tmp)
      throws Exception {
    Files.copy(BPE.resolve("tokenizer.json"), tmp.resolve("tokenizer.json"));
    try (HfTokenizer alone = HfTokenizer.load(tmp)) {
      assertThat(alone.sha256())
          .isEqualTo(sha256(Files.readAllBytes(tmp.resolve("tokenizer.json"))));
      assertThat(alone.sha256()).isNotEqualTo(bpe.sha256());
      assertThat(alone.specialTokens()).isEqualTo(Tokenizer.SpecialTokens.NONE);
      assertThat(alone.chatTemplate()).isEmpty();
      assertThat(alone.vocabSize()).isEqualTo(660);
    }
  }

  @Test
  void specialTokensMapWinsOverTokenizerConfigAndObjectsOrStringsAreRead(@TempDir Path tmp)
      throws Exception {
    Files.copy(BPE.resolve("tokenizer.json"), tmp.resolve("tokenizer.json"));
    Files.writeString(
        tmp.resolve("tokenizer_config.json"),
        "{\"bos_token\":\"<|im_start|>\",\"eos_token\":{\"content\":\"<|im_end|>\"},"
            + "\"unk_token\":\"<|pad|>\",\"pad_token\":null}");
    Files.writeString(
        tmp.resolve("special_tokens_map.json"), "{\"bos_token\":{\"content\":\"<|endoftext|>\"}}");
    try (HfTokenizer t = HfTokenizer.load(tmp)) {
      assertThat(t.specialTokens().bos()).hasValue(656);
      assertThat(t.specialTokens().eos()).hasValue(658);
      assertThat(t.specialTokens().unk()).hasValue(659);
      assertThat(t.specialTokens().pad()).isEmpty();
    }
  }

  @Test
  void aSpecialTokenOutsideTheVocabularyFailsTheLoadNamingFileAndToken(@TempDir Path tmp)
      throws Exception {
    Files.copy(BPE.resolve("tokenizer.json"), tmp.resolve("tokenizer.json"));
    Files.writeString(tmp.resolve("tokenizer_config.json"), "{\"eos_token\":\"</s>\"}");
    assertLoadFailsNaming(tmp, "tokenizer_config.json", "eos_token '</s>'");
  }

  @Test
  void aChatTemplateListGivesItsDefaultAndWithoutOneFails(@TempDir Path tmp) throws Exception {
    Files.copy(BPE.resolve("tokenizer.json"), tmp.resolve("tokenizer.json"));
    Files.writeString(
        tmp.resolve("tokenizer_config.json"),
        "{\"chat_template\":[{\"name\":\"tool_use\",\"template\":\"T\"},"
            + "{\"name\":\"default\",\"template\":\"D{{ messages|length }}\"}]}");
    try (HfTokenizer t = HfTokenizer.load(tmp)) {
      assertThat(t.chatTemplate()).hasValue("D{{ messages|length }}");
    }
    Files.writeString(
        tmp.resolve("tokenizer_config.json"),
        "{\"chat_template\":[{\"name\":\"tool_use\",\"template\":\"T\"}]}");
    assertLoadFailsNaming(tmp, "no \"default\"", "tool_use");
  }

  @Test
  void chatTemplateJinjaFileWinsOverTheConfigAndIsPartOfTheIdentity(@TempDir Path tmp)
      throws Exception {
    for (String f : List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")) {
      Files.copy(BPE.resolve(f), tmp.resolve(f));
    }
    Files.writeString(tmp.resolve("chat_template.jinja"), "J{{ bos_token }}");
    try (HfTokenizer t = HfTokenizer.load(tmp)) {
      assertThat(t.chatTemplate()).hasValue("J{{ bos_token }}");
      assertThat(t.sha256()).isNotEqualTo(bpe.sha256());
      assertThat(t.files()).endsWith("chat_template.jinja");
    }
  }

  @Test
  void aCharacterTheTokenizerWouldDropIsRejectedNamingIt(@TempDir Path tmp) throws Exception {
    // A BPE without byte fallback and without an unk token: the Rust library skips 'z'.
    Files.writeString(
        tmp.resolve("tokenizer.json"),
        "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[],"
            + "\"normalizer\":null,\"pre_tokenizer\":null,\"post_processor\":null,"
            + "\"decoder\":null,\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,"
            + "\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,"
            + "\"fuse_unk\":false,\"byte_fallback\":false,"
            + "\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"ab\":3},\"merges\":[\"a b\"]}}");
    try (HfTokenizer t = HfTokenizer.load(tmp)) {
      assertThat(t.encode("abcab")).containsExactly(3, 2, 3);
      assertThatThrownBy(() -> t.encode("abzc"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'z'")
          .hasMessageContaining("index 2");
    }
  }

  @Test
  void malformedVocabularyFailsNamingTheFile(@TempDir Path tmp) throws Exception {
    Files.writeString(
        tmp.resolve("tokenizer.json"),
        "{\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"a\":0,\"b\":0},\"unk_token\":\"a\"}}");
    assertLoadFailsNaming(tmp, "tokenizer.json", "id 0");
  }

  @Test
  void aClosedTokenizerRefusesWorkAndCloseIsIdempotent(@TempDir Path tmp) throws Exception {
    Files.copy(BPE.resolve("tokenizer.json"), tmp.resolve("tokenizer.json"));
    HfTokenizer t = HfTokenizer.load(tmp);
    assertThat(t.encode("Hello")).isNotEmpty();
    t.close();
    t.close();
    assertThatThrownBy(() -> t.encode("Hello"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("closed");
    assertThatThrownBy(() -> t.decode(new int[] {72})).isInstanceOf(IllegalStateException.class);
    assertThat(t.tokenId("H")).hasValue(72); // the vocabulary is plain Java
  }

  @Test
  void threadsSharingOneTokenizerGetWhatOneThreadGets() throws Exception {
    List<String> lines = HfFixtures.corpus().lines().filter(l -> !l.isBlank()).limit(4000).toList();
    List<int[]> single = lines.stream().map(bpe::encode).toList();
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<List<int[]>>> futures = new ArrayList<>();
      for (int w = 0; w < 4; w++) {
        futures.add(pool.submit(() -> lines.stream().map(bpe::encode).toList()));
      }
      for (Future<List<int[]>> f : futures) {
        List<int[]> got = f.get();
        for (int i = 0; i < lines.size(); i++) {
          assertThat(got.get(i)).containsExactly(single.get(i));
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void realGpt2TokenizerLoadsWithItsIdsAndSpecialTokens(@TempDir Path tmp) throws Exception {
    JsonObject want = HfFixtures.expected(HfFixtures.GPT2_REAL);
    try (Tokenizer gpt2 = Tokenizers.load(HfFixtures.gpt2Folder(tmp))) {
      assertThat(gpt2).isInstanceOf(HfTokenizer.class);
      assertThat(gpt2.vocabSize()).isEqualTo(50257);
      assertThat(gpt2.id()).startsWith("hf-50257-");
      assertThat(gpt2.encode("Hello world")).containsExactly(15496, 995);
      for (JsonElement e : want.getAsJsonArray("encodings")) {
        JsonObject c = e.getAsJsonObject();
        String text = c.get("text").getAsString();
        assertThat(gpt2.encode(text)).as(text).containsExactly(ints(c.getAsJsonArray("ids")));
        assertThat(gpt2.decode(gpt2.encode(text))).isEqualTo(text);
      }
      assertThat(gpt2.specialTokens().bos()).hasValue(50256);
      assertThat(gpt2.specialTokens().eos()).hasValue(50256);
      assertThat(gpt2.specialTokens().unk()).hasValue(50256);
      assertThat(gpt2.specialTokens().pad()).isEmpty();
      assertThat(gpt2.token(50256)).isEqualTo("<|endoftext|>");
      assertThat(gpt2.tokenId("Ġworld")).hasValue(995);
      assertThat(gpt2.tokenId("Hello")).hasValue(15496);
      assertThat(gpt2.chatTemplate()).isEmpty();
      assertThat(gpt2.decode(new int[] {15496, 50256})).isEqualTo("Hello<|endoftext|>");
      OptionalInt none = gpt2.tokenId("Hello world");
      assertThat(none).isEmpty();
    }
  }

  static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  /**
   * Loading {@code dir} fails with an IOException whose message names every one of {@code parts}.
   */
  private static void assertLoadFailsNaming(Path dir, String... parts) {
    assertThatThrownBy(() -> HfTokenizer.load(dir))
        .isInstanceOf(IOException.class)
        .hasMessageContainingAll(parts);
  }
}
