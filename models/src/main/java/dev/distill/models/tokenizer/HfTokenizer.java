package dev.distill.models.tokenizer;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.apache.commons.codec.digest.DigestUtils;

/**
 * A Hugging Face tokenizer: the {@code tokenizer.json} of a model folder run by the Rust {@code
 * tokenizers} library through DJL ({@code ai.djl.huggingface:tokenizers}, native library inside the
 * jar), with the special tokens and chat template of the folder's optional {@code
 * tokenizer_config.json}, {@code special_tokens_map.json} and {@code chat_template.jinja}.
 *
 * <ul>
 *   <li>Encoding adds no special tokens, never truncates and never pads: the ids of a text are the
 *       model's input ids, position by position. A character that the tokenizer drops (a BPE
 *       without an unk token meets a character outside its vocabulary) is an error naming it, never
 *       a silent gap; whitespace that a pre-tokenizer splits on may be dropped.
 *   <li>Decoding keeps special tokens (as their text) and applies the tokenizer's own decoder only:
 *       {@code tokenizer_config.json}'s {@code clean_up_tokenization_spaces} (which turns " ." into
 *       "." in {@code transformers}) is not applied, so that {@code decode(encode(text))} gives the
 *       text back for a lossless (byte-level) tokenizer.
 *   <li>Vocabulary: {@code vocabSize = 1 + max id} over {@code model.vocab} (an object {@code token
 *       -> id}, or Unigram's list of {@code [token, score]} whose index is the id) and {@code
 *       added_tokens}; an added token's string wins over a vocabulary entry with the same id. An id
 *       below {@code vocabSize} that no entry has is refused by {@link #decode} and {@link #token}.
 *   <li>Special tokens: {@code bos_token}, {@code eos_token}, {@code pad_token}, {@code unk_token},
 *       each a string or an object with {@code content}, from {@code special_tokens_map.json}, else
 *       {@code tokenizer_config.json} (the precedence of {@code transformers}' {@code
 *       from_pretrained}); a named token that is not in the vocabulary fails the load.
 *   <li>Chat template: {@code chat_template.jinja} when present, else {@code
 *       tokenizer_config.json}'s {@code chat_template}, a string or a list of {@code {name,
 *       template}} of which the one named {@code default} is taken.
 *   <li>Identity ({@link #sha256()}): SHA-256 of the bytes of {@code tokenizer.json}, followed, for
 *       each of {@code tokenizer_config.json}, {@code special_tokens_map.json}, {@code
 *       chat_template.jinja} that is present, in this order, by a NUL byte, the file name in UTF-8,
 *       a NUL byte and the file's bytes. For a folder with {@code tokenizer.json} alone it is
 *       {@code sha256sum tokenizer.json}.
 * </ul>
 *
 * <p>Thread-safe. DJL's encode and decode call {@code &self} methods of the Rust {@code Tokenizer}
 * (its BPE cache is behind a lock), and nothing here changes the Rust object after construction
 * (truncation and padding are disabled once, in DJL's constructor), so threads share one instance.
 * The native object is freed by {@link #close()}; a read-write lock keeps {@code close} from
 * freeing it under a running encode or decode, which would be a use-after-free in native code.
 */
public final class HfTokenizer implements Tokenizer {
  public static final String TOKENIZER_FILE = "tokenizer.json";
  public static final String CONFIG_FILE = "tokenizer_config.json";
  public static final String SPECIAL_TOKENS_FILE = "special_tokens_map.json";
  public static final String CHAT_TEMPLATE_FILE = "chat_template.jinja";

  /**
   * The files that define a Hugging Face tokenizer, in identity order; only the first is needed.
   */
  public static final List<String> FILES =
      List.of(TOKENIZER_FILE, CONFIG_FILE, SPECIAL_TOKENS_FILE, CHAT_TEMPLATE_FILE);

  private static final List<String> SPECIAL_KEYS =
      List.of("bos_token", "eos_token", "pad_token", "unk_token");

  private final Map<String, byte[]> files; // present files, in FILES order
  private final String modelType;
  private final String[] tokens; // id -> token string; null where no entry has the id
  private final Map<String, Integer> ids;
  private final SpecialTokens specialTokens;
  private final String chatTemplate; // null when none
  private final String sha256;
  private final String id;
  private final HuggingFaceTokenizer rust;
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private boolean closed; // guarded by lock

  private HfTokenizer(Path dir, Map<String, byte[]> files, JsonObject tokenizerJson)
      throws IOException {
    this.files = files;
    Path tokFile = dir.resolve(TOKENIZER_FILE);
    JsonElement model = tokenizerJson.get("model");
    if (model == null || !model.isJsonObject()) {
      throw new IOException(tokFile + ": no \"model\" object: not a Hugging Face tokenizer.json");
    }
    JsonElement type = model.getAsJsonObject().get("type");
    this.modelType = type != null && type.isJsonPrimitive() ? type.getAsString() : "?";
    Map<Integer, String> byId = new HashMap<>();
    this.ids = new HashMap<>();
    readVocabulary(tokFile, model.getAsJsonObject(), tokenizerJson.get("added_tokens"), byId, ids);
    int size = byId.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
    if (size == 0) {
      throw new IOException(tokFile + ": empty vocabulary (model.vocab and added_tokens)");
    }
    this.tokens = new String[size];
    byId.forEach((i, t) -> tokens[i] = t);
    this.sha256 = identity(files);
    this.id = "hf-" + size + "-" + sha256.substring(0, 12);

    Map<String, String> special = new LinkedHashMap<>();
    JsonObject config = readOptionalJson(dir, CONFIG_FILE);
    JsonObject specialMap = readOptionalJson(dir, SPECIAL_TOKENS_FILE);
    for (String key : SPECIAL_KEYS) {
      String fromMap =
          specialMap == null ? null : specialToken(specialMap, key, SPECIAL_TOKENS_FILE);
      String fromConfig = config == null ? null : specialToken(config, key, CONFIG_FILE);
      String content = fromMap != null ? fromMap : fromConfig;
      if (content != null) {
        if (!ids.containsKey(content)) {
          throw new IOException(
              dir.resolve(fromMap != null ? SPECIAL_TOKENS_FILE : CONFIG_FILE)
                  + ": "
                  + key
                  + " '"
                  + content
                  + "' is not in the vocabulary of "
                  + tokFile);
        }
        special.put(key, content);
      }
    }
    this.specialTokens =
        new SpecialTokens(
            idOf(special.get("bos_token")),
            idOf(special.get("eos_token")),
            idOf(special.get("pad_token")),
            idOf(special.get("unk_token")));
    if (files.containsKey(CHAT_TEMPLATE_FILE)) {
      this.chatTemplate = new String(files.get(CHAT_TEMPLATE_FILE), StandardCharsets.UTF_8);
    } else {
      this.chatTemplate = config == null ? null : chatTemplate(dir.resolve(CONFIG_FILE), config);
    }

    // The JSON as it is on disk: DJL hands it to the Rust library unchanged. No tokenizer config
    // goes to DJL (it would lower-case, strip accents or add a prefix space on its own): the
    // Rust tokenizer.json alone defines the ids, as in `tokenizers`' Tokenizer.from_file.
    Map<String, String> options =
        Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false");
    try {
      this.rust =
          HuggingFaceTokenizer.newInstance(
              new ByteArrayInputStream(files.get(TOKENIZER_FILE)), options);
    } catch (RuntimeException e) {
      throw new IOException(
          tokFile + ": the Rust tokenizers library cannot load it: " + e.getMessage(), e);
    }
  }

  /**
   * Loads the Hugging Face tokenizer of folder {@code dir}: {@code tokenizer.json} and, when
   * present, {@code tokenizer_config.json}, {@code special_tokens_map.json}, {@code
   * chat_template.jinja}.
   *
   * @throws IOException naming the file and the reason when a file is missing, malformed or
   *     inconsistent (a special token outside the vocabulary, an id given to two tokens)
   */
  public static HfTokenizer load(Path dir) throws IOException {
    Path file = dir.resolve(TOKENIZER_FILE);
    if (!Files.isRegularFile(file)) {
      throw new IOException("no " + TOKENIZER_FILE + " in " + dir);
    }
    byte[] bytes = Files.readAllBytes(file);
    return load(dir, bytes, parseObject(file, bytes));
  }

  /** For {@link Tokenizers#load}, which has read and parsed {@code tokenizer.json} already. */
  static HfTokenizer load(Path dir, byte[] tokenizerJsonBytes, JsonObject tokenizerJson)
      throws IOException {
    Map<String, byte[]> files = new LinkedHashMap<>();
    files.put(TOKENIZER_FILE, tokenizerJsonBytes);
    for (String name : FILES.subList(1, FILES.size())) {
      Path p = dir.resolve(name);
      if (Files.isRegularFile(p)) {
        files.put(name, Files.readAllBytes(p));
      }
    }
    return new HfTokenizer(dir, Collections.unmodifiableMap(files), tokenizerJson);
  }

  @Override
  public int[] encode(String text) {
    Objects.requireNonNull(text, "text");
    Encoding encoding = encodeRaw(text);
    long[] raw = encoding.getIds();
    int[] out = new int[raw.length];
    for (int i = 0; i < raw.length; i++) {
      if (raw[i] < 0 || raw[i] >= tokens.length) {
        throw new IllegalStateException(
            id + " produced id " + raw[i] + " outside [0, " + tokens.length + ")");
      }
      out[i] = (int) raw[i];
    }
    requireCovered(text, encoding.getCharTokenSpans());
    return out;
  }

  private Encoding encodeRaw(String text) {
    lock.readLock().lock();
    try {
      requireOpen();
      return rust.encode(text, false, false);
    } catch (IllegalStateException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          id + " cannot encode a text of " + text.length() + " chars: " + e.getMessage(), e);
    } finally {
      lock.readLock().unlock();
    }
  }

  /**
   * Fails when a non-whitespace character is covered by no token: the Rust BPE skips a character
   * outside its vocabulary when it has no unk token, which would silently change the text. Spans
   * are in Unicode code points (the Rust library's char offsets); after a skipped character they
   * shift, so the character is named by encoding the characters one by one (on this error path
   * only).
   */
  private void requireCovered(String text, CharSpan[] spans) {
    int n = text.codePointCount(0, text.length());
    boolean[] covered = new boolean[n];
    for (CharSpan s : spans) {
      if (s != null) {
        for (int c = Math.max(0, s.getStart()); c < Math.min(n, s.getEnd()); c++) {
          covered[c] = true;
        }
      }
    }
    int c = 0;
    for (int i = 0; i < text.length(); c++) {
      int cp = text.codePointAt(i);
      if (!covered[c] && !Character.isWhitespace(cp)) {
        throw new IllegalArgumentException(droppedCharacter(text));
      }
      i += Character.charCount(cp);
    }
  }

  private String droppedCharacter(String text) {
    for (int i = 0; i < text.length(); ) {
      int cp = text.codePointAt(i);
      String one = new String(Character.toChars(cp));
      if (!Character.isWhitespace(cp) && encodeRaw(one).getIds().length == 0) {
        return String.format(
            "character '%s' (U+%04X) at index %d has no token in %s (a %s model without an unk"
                + " token drops it)",
            one, cp, i, id, modelType);
      }
      i += Character.charCount(cp);
    }
    return "a character of the text has no token in " + id + " (its tokens do not cover the text)";
  }

  @Override
  public String decode(int[] ids) {
    long[] longs = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      int t = ids[i];
      if (t < 0 || t >= tokens.length) {
        throw new IllegalArgumentException(
            "token id " + t + " at index " + i + " outside [0, " + tokens.length + ") of " + id);
      }
      if (tokens[t] == null) {
        throw new IllegalArgumentException(
            "token id " + t + " at index " + i + " has no vocabulary entry in " + id);
      }
      longs[i] = t;
    }
    lock.readLock().lock();
    try {
      requireOpen();
      return rust.decode(longs, false);
    } finally {
      lock.readLock().unlock();
    }
  }

  @Override
  public int vocabSize() {
    return tokens.length;
  }

  /** {@code "hf-" + vocabSize + "-" + the first 12 hex chars of sha256()}. */
  @Override
  public String id() {
    return id;
  }

  @Override
  public String sha256() {
    return sha256;
  }

  @Override
  public SpecialTokens specialTokens() {
    return specialTokens;
  }

  @Override
  public OptionalInt tokenId(String token) {
    Integer i = token == null ? null : ids.get(token);
    return i == null ? OptionalInt.empty() : OptionalInt.of(i);
  }

  /**
   * @throws IllegalArgumentException for an id outside {@code [0, vocabSize)} or one that no entry
   *     has
   */
  @Override
  public String token(int id) {
    if (id < 0 || id >= tokens.length || tokens[id] == null) {
      throw new IllegalArgumentException(
          "token id " + id + " has no vocabulary entry in " + this.id);
    }
    return tokens[id];
  }

  @Override
  public Optional<String> chatTemplate() {
    return Optional.ofNullable(chatTemplate);
  }

  /** The names of the files that define this tokenizer, in identity order. */
  public List<String> files() {
    return List.copyOf(files.keySet());
  }

  /**
   * Copies the defining files into {@code dir} byte for byte (created if needed).
   *
   * @throws IOException before writing anything when {@code dir} holds one of {@link #FILES} that
   *     this tokenizer does not have: it would become part of the tokenizer loaded back
   */
  @Override
  public void saveTo(Path dir) throws IOException {
    for (String name : FILES) {
      if (!files.containsKey(name) && Files.exists(dir.resolve(name))) {
        throw new IOException(
            dir.resolve(name)
                + " exists and is not part of tokenizer "
                + id
                + ": remove it or save elsewhere");
      }
    }
    Files.createDirectories(dir);
    for (Map.Entry<String, byte[]> f : files.entrySet()) {
      Files.write(dir.resolve(f.getKey()), f.getValue());
    }
  }

  /** Frees the Rust tokenizer once no encode or decode runs; idempotent. */
  @Override
  public void close() {
    lock.writeLock().lock();
    try {
      if (!closed) {
        closed = true;
        rust.close();
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException("tokenizer " + id + " is closed");
    }
  }

  private OptionalInt idOf(String token) {
    return token == null ? OptionalInt.empty() : OptionalInt.of(ids.get(token));
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof HfTokenizer other && sha256.equals(other.sha256);
  }

  @Override
  public int hashCode() {
    return sha256.hashCode();
  }

  @Override
  public String toString() {
    return id;
  }

  // --- file reading --------------------------------------------------------------------------

  static JsonObject parseObject(Path file, byte[] bytes) throws IOException {
    try {
      JsonElement e = JsonParser.parseString(new String(bytes, StandardCharsets.UTF_8));
      if (!e.isJsonObject()) {
        throw new IOException(file + ": not a JSON object");
      }
      return e.getAsJsonObject();
    } catch (JsonParseException e) {
      throw new IOException(file + ": not valid JSON: " + e.getMessage(), e);
    }
  }

  private JsonObject readOptionalJson(Path dir, String name) throws IOException {
    byte[] bytes = files.get(name);
    return bytes == null ? null : parseObject(dir.resolve(name), bytes);
  }

  private static void readVocabulary(
      Path file,
      JsonObject model,
      JsonElement addedTokens,
      Map<Integer, String> byId,
      Map<String, Integer> ids)
      throws IOException {
    JsonElement vocab = model.get("vocab");
    if (vocab == null || vocab.isJsonNull()) {
      throw new IOException(file + ": model has no \"vocab\"");
    }
    try {
      if (vocab.isJsonObject()) {
        for (Map.Entry<String, JsonElement> e : vocab.getAsJsonObject().entrySet()) {
          put(file, "model.vocab", e.getKey(), e.getValue().getAsInt(), byId, ids, false);
        }
      } else if (vocab.isJsonArray()) { // Unigram: [[piece, score], ...], id = index
        JsonArray a = vocab.getAsJsonArray();
        for (int i = 0; i < a.size(); i++) {
          put(
              file,
              "model.vocab",
              a.get(i).getAsJsonArray().get(0).getAsString(),
              i,
              byId,
              ids,
              false);
        }
      } else {
        throw new IOException(file + ": model.vocab is neither an object nor a list");
      }
      if (addedTokens != null && !addedTokens.isJsonNull()) {
        for (JsonElement t : addedTokens.getAsJsonArray()) {
          JsonObject o = t.getAsJsonObject();
          put(
              file,
              "added_tokens",
              o.get("content").getAsString(),
              o.get("id").getAsInt(),
              byId,
              ids,
              true);
        }
      }
    } catch (IllegalStateException | UnsupportedOperationException | NullPointerException e) {
      throw new IOException(file + ": malformed vocabulary: " + e, e);
    } catch (NumberFormatException e) {
      throw new IOException(file + ": a vocabulary id is not an integer: " + e.getMessage(), e);
    }
  }

  private static void put(
      Path file,
      String where,
      String token,
      int id,
      Map<Integer, String> byId,
      Map<String, Integer> ids,
      boolean added)
      throws IOException {
    if (id < 0) {
      throw new IOException(file + ": " + where + " gives '" + token + "' the negative id " + id);
    }
    String previous = byId.get(id);
    if (previous != null && !previous.equals(token) && !added) {
      throw new IOException(
          file
              + ": "
              + where
              + " gives id "
              + id
              + " to both '"
              + previous
              + "' and '"
              + token
              + "'");
    }
    if (added && previous != null && !previous.equals(token)) {
      ids.remove(previous, id); // the added token replaces the model's entry for this id
    }
    byId.put(id, token);
    ids.put(token, id);
  }

  /** A special token's content: a string, an object with "content", null or absent. */
  private static String specialToken(JsonObject json, String key, String fileName)
      throws IOException {
    JsonElement e = json.get(key);
    if (e == null || e.isJsonNull()) {
      return null;
    }
    if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString()) {
      return e.getAsString();
    }
    if (e.isJsonObject()) {
      JsonElement c = e.getAsJsonObject().get("content");
      if (c != null && c.isJsonPrimitive() && c.getAsJsonPrimitive().isString()) {
        return c.getAsString();
      }
    }
    throw new IOException(
        fileName + ": " + key + " is neither a string nor an object with a string \"content\"");
  }

  private static String chatTemplate(Path file, JsonObject config) throws IOException {
    JsonElement t = config.get("chat_template");
    if (t == null || t.isJsonNull()) {
      return null;
    }
    if (t.isJsonPrimitive() && t.getAsJsonPrimitive().isString()) {
      return t.getAsString();
    }
    if (t.isJsonArray()) {
      List<String> names = new ArrayList<>();
      for (JsonElement e : t.getAsJsonArray()) {
        if (!e.isJsonObject()
            || !e.getAsJsonObject().has("name")
            || !e.getAsJsonObject().has("template")) {
          throw new IOException(file + ": chat_template list entries must be {name, template}");
        }
        String name = e.getAsJsonObject().get("name").getAsString();
        if ("default".equals(name)) {
          return e.getAsJsonObject().get("template").getAsString();
        }
        names.add(name);
      }
      throw new IOException(file + ": chat_template list has no \"default\" (only " + names + ")");
    }
    throw new IOException(file + ": chat_template is neither a string nor a list");
  }

  private static String identity(Map<String, byte[]> files) {
    MessageDigest md = DigestUtils.getSha256Digest();
    for (Map.Entry<String, byte[]> f : files.entrySet()) {
      if (!f.getKey().equals(TOKENIZER_FILE)) {
        md.update((byte) 0);
        md.update(f.getKey().getBytes(StandardCharsets.UTF_8));
        md.update((byte) 0);
      }
      md.update(f.getValue());
    }
    return HexFormat.of().formatHex(md.digest());
  }
}
