package dev.distill.models.tokenizer;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import org.apache.commons.codec.digest.DigestUtils;

/**
 * A character-level tokenizer, as in nanoGPT's shakespeare_char: the vocabulary is the set of
 * distinct characters (Unicode code points) of a corpus, sorted by code point, and a character's id
 * is its position in that sorted list.
 *
 * <p>Immutable and thread-safe. Its identity ({@link #sha256()}) depends only on the vocabulary, so
 * two tokenizers built from different corpora with the same character set are the same tokenizer.
 * It has no special tokens ({@link SpecialTokens#NONE}); a vocabulary entry's string ({@link
 * #token}) is its one character.
 */
public final class CharTokenizer implements Tokenizer {

  private static final String TYPE = "char";
  private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

  private final int[] codePoints;
  private final Map<Integer, Integer> idOf;
  private final String vocabulary;
  private final String sha256;

  private CharTokenizer(int[] sortedDistinctCodePoints) {
    if (sortedDistinctCodePoints.length == 0) {
      throw new IllegalArgumentException("a tokenizer needs at least one character");
    }
    this.codePoints = sortedDistinctCodePoints.clone();
    this.idOf = new HashMap<>(codePoints.length * 2);
    for (int i = 0; i < codePoints.length; i++) {
      if (i > 0 && codePoints[i] <= codePoints[i - 1]) {
        throw new IllegalArgumentException("vocabulary is not sorted and distinct at index " + i);
      }
      idOf.put(codePoints[i], i);
    }
    this.vocabulary = new String(codePoints, 0, codePoints.length);
    this.sha256 = DigestUtils.sha256Hex(vocabulary.getBytes(StandardCharsets.UTF_8));
  }

  /** Builds the tokenizer whose vocabulary is the distinct code points of {@code corpus}. */
  public static CharTokenizer fromCorpus(String corpus) {
    if (corpus == null || corpus.isEmpty()) {
      throw new IllegalArgumentException("corpus is empty");
    }
    return new CharTokenizer(corpus.codePoints().distinct().sorted().toArray());
  }

  /**
   * Encodes {@code text} to ids, one per code point.
   *
   * @throws IllegalArgumentException naming the first character outside the vocabulary and its
   *     index (a {@code String} char index) in {@code text}
   */
  @Override
  public int[] encode(String text) {
    int[] ids = new int[text.codePointCount(0, text.length())];
    int n = 0;
    for (int i = 0; i < text.length(); ) {
      int cp = text.codePointAt(i);
      Integer id = idOf.get(cp);
      if (id == null) {
        throw new IllegalArgumentException(
            String.format(
                "unknown character '%s' (U+%04X) at index %d, not in the vocabulary of %s",
                new String(Character.toChars(cp)), cp, i, id()));
      }
      ids[n++] = id;
      i += Character.charCount(cp);
    }
    return ids;
  }

  /**
   * Decodes ids to text.
   *
   * @throws IllegalArgumentException for an id outside {@code [0, vocabSize)}
   */
  @Override
  public String decode(int[] ids) {
    StringBuilder sb = new StringBuilder(ids.length);
    for (int i = 0; i < ids.length; i++) {
      int id = ids[i];
      if (id < 0 || id >= codePoints.length) {
        throw new IllegalArgumentException(
            "token id " + id + " at index " + i + " outside [0, " + codePoints.length + ")");
      }
      sb.appendCodePoint(codePoints[id]);
    }
    return sb.toString();
  }

  @Override
  public int vocabSize() {
    return codePoints.length;
  }

  /** {@code "char-" + vocabSize + "-" + the first 12 hex chars of sha256()}. */
  @Override
  public String id() {
    return "char-" + vocabSize() + "-" + sha256.substring(0, 12);
  }

  /** SHA-256 (lower-case hex) of the vocabulary string (the sorted characters) in UTF-8. */
  @Override
  public String sha256() {
    return sha256;
  }

  /** None: a char tokenizer has no BOS/EOS/PAD/UNK. */
  @Override
  public SpecialTokens specialTokens() {
    return SpecialTokens.NONE;
  }

  /** The id of {@code token} when it is exactly one character of the vocabulary. */
  @Override
  public OptionalInt tokenId(String token) {
    if (token == null
        || token.isEmpty()
        || token.codePointCount(0, token.length()) != 1
        || !idOf.containsKey(token.codePointAt(0))) {
      return OptionalInt.empty();
    }
    return OptionalInt.of(idOf.get(token.codePointAt(0)));
  }

  /**
   * The character of {@code id}.
   *
   * @throws IllegalArgumentException for an id outside {@code [0, vocabSize)}
   */
  @Override
  public String token(int id) {
    if (id < 0 || id >= codePoints.length) {
      throw new IllegalArgumentException(
          "token id " + id + " outside [0, " + codePoints.length + ") of " + id());
    }
    return new String(Character.toChars(codePoints[id]));
  }

  /** Writes {@code dir/tokenizer.json} with {@link #save} (the folder is created if needed). */
  @Override
  public void saveTo(Path dir) throws IOException {
    Files.createDirectories(dir);
    save(dir.resolve(Tokenizers.TOKENIZER_FILE));
  }

  /**
   * Writes this vocabulary as a Hugging Face {@code tokenizer.json} (plus an empty-special-token
   * {@code tokenizer_config.json}) into {@code dir}, for a model exported to the Hugging Face
   * format: a BPE model whose vocabulary is the characters and which has no merges, so every
   * character is one token with our id, and a {@code Fuse} decoder that joins tokens without
   * spaces. No normalizer and no pre-tokenizer: spaces and newlines are tokens like any other
   * character.
   */
  public void saveHuggingFace(Path dir) throws IOException {
    Files.createDirectories(dir);
    JsonObject vocab = new JsonObject();
    for (int i = 0; i < codePoints.length; i++) {
      vocab.addProperty(new String(Character.toChars(codePoints[i])), i);
    }
    JsonObject model = new JsonObject();
    model.addProperty("type", "BPE");
    model.add("dropout", com.google.gson.JsonNull.INSTANCE);
    model.add("unk_token", com.google.gson.JsonNull.INSTANCE);
    model.add("continuing_subword_prefix", com.google.gson.JsonNull.INSTANCE);
    model.add("end_of_word_suffix", com.google.gson.JsonNull.INSTANCE);
    model.addProperty("fuse_unk", false);
    model.addProperty("byte_fallback", false);
    model.addProperty("ignore_merges", false);
    model.add("vocab", vocab);
    model.add("merges", new com.google.gson.JsonArray());
    JsonObject decoder = new JsonObject();
    decoder.addProperty("type", "Fuse");
    JsonObject json = new JsonObject();
    json.addProperty("version", "1.0");
    json.add("truncation", com.google.gson.JsonNull.INSTANCE);
    json.add("padding", com.google.gson.JsonNull.INSTANCE);
    json.add("added_tokens", new com.google.gson.JsonArray());
    json.add("normalizer", com.google.gson.JsonNull.INSTANCE);
    json.add("pre_tokenizer", com.google.gson.JsonNull.INSTANCE);
    json.add("post_processor", com.google.gson.JsonNull.INSTANCE);
    json.add("decoder", decoder);
    json.add("model", model);
    Gson nulls =
        new GsonBuilder().disableHtmlEscaping().serializeNulls().setPrettyPrinting().create();
    Files.writeString(
        dir.resolve(Tokenizers.TOKENIZER_FILE), nulls.toJson(json), StandardCharsets.UTF_8);
    JsonObject config = new JsonObject();
    config.addProperty("tokenizer_class", "PreTrainedTokenizerFast");
    config.addProperty("model_max_length", 1_000_000);
    config.addProperty("clean_up_tokenization_spaces", false);
    Files.writeString(
        dir.resolve("tokenizer_config.json"), nulls.toJson(config), StandardCharsets.UTF_8);
  }

  /** The vocabulary as one string, characters in id order. */
  public String vocabulary() {
    return vocabulary;
  }

  /** Writes {@code {"type":"char","vocab":"<characters in id order>","sha256":...}}. */
  public void save(Path file) throws IOException {
    JsonObject json = new JsonObject();
    json.addProperty("type", TYPE);
    json.addProperty("vocab", vocabulary);
    json.addProperty("sha256", sha256);
    Files.writeString(file, GSON.toJson(json), StandardCharsets.UTF_8);
  }

  /**
   * Reads a file written by {@link #save}.
   *
   * @throws IOException if the file is not a char tokenizer, or its sha256 does not match its
   *     vocabulary
   */
  public static CharTokenizer load(Path file) throws IOException {
    String text = Files.readString(file, StandardCharsets.UTF_8);
    try {
      JsonObject json = JsonParser.parseString(text).getAsJsonObject();
      for (String key : json.keySet()) {
        if (!Set.of("type", "vocab", "sha256").contains(key)) {
          throw new IOException(file + ": unknown key '" + key + "'");
        }
      }
      String type = requireString(json, "type", file);
      if (!TYPE.equals(type)) {
        throw new IOException(file + ": tokenizer type '" + type + "' is not '" + TYPE + "'");
      }
      int[] cps = requireString(json, "vocab", file).codePoints().toArray();
      int[] sorted = Arrays.stream(cps).distinct().sorted().toArray();
      if (!Arrays.equals(cps, sorted)) {
        throw new IOException(file + ": vocab is not sorted distinct characters");
      }
      CharTokenizer tokenizer = new CharTokenizer(cps);
      if (json.has("sha256") && !tokenizer.sha256.equals(requireString(json, "sha256", file))) {
        throw new IOException(file + ": sha256 does not match the vocab");
      }
      return tokenizer;
    } catch (JsonParseException | IllegalStateException | IllegalArgumentException e) {
      throw new IOException(file + ": not a char tokenizer: " + e.getMessage(), e);
    }
  }

  private static String requireString(JsonObject json, String key, Path file) throws IOException {
    JsonElement e = json.get(key);
    if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
      throw new IOException(file + ": missing or non-string key '" + key + "'");
    }
    return e.getAsString();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof CharTokenizer other && vocabulary.equals(other.vocabulary);
  }

  @Override
  public int hashCode() {
    return vocabulary.hashCode();
  }

  @Override
  public String toString() {
    return id();
  }
}
