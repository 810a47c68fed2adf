package dev.distill.teacher.inference;

import com.google.gson.JsonPrimitive;
import dev.distill.models.tokenizer.Tokenizer;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Token strings as OpenAI-compatible endpoints write them (the keys of {@code top_logprobs}, the
 * {@code tokens} of {@code logprobs}) to ids of a {@link Tokenizer} and back, exactly: a string
 * that does not name exactly one id is refused with the reason, never guessed (issue 12).
 *
 * <p>Endpoints (vLLM, the OpenAI API, this service) write a token as its <em>decoded text</em>
 * (GPT-2's {@code "Ġworld"} arrives as {@code " world"}); vLLM with {@code
 * return_tokens_as_token_ids} writes {@code token_id:995}; a token that is not whole UTF-8 (a
 * byte-level BPE token holding part of a character) arrives as {@code bytes:\xe2\x80} (the OpenAI
 * API's form), or, from endpoints that decode it lossily, with U+FFFD in it. The rule, in order:
 *
 * <ol>
 *   <li>{@code token_id:N}: id N, when N is in {@code [0, vocabSize)};
 *   <li>the ids whose decoded text equals the string, found as {@link Tokenizer#tokenId} of the
 *       string itself (char tokenizers, added/special tokens, ASCII pieces) and, for a byte-level
 *       BPE tokenizer, of the string's UTF-8 bytes mapped through GPT-2's {@code bytes_to_unicode}
 *       table ({@code " world"} -> {@code "Ġworld"}). Each candidate must decode back to the
 *       string: the vocabulary entry {@code "é"} of GPT-2 is the single byte 0xE9 (it decodes to
 *       U+FFFD), so the text {@code "é"} is the entry {@code "Ã©"} and never the entry {@code "é"}.
 *       Two different ids that both decode to the string are refused as ambiguous;
 *   <li>{@code bytes:} followed by {@code \xNN} escapes (and plain characters, taken as their UTF-8
 *       bytes): for a byte-level BPE tokenizer, the entry spelling those bytes;
 *   <li>anything else is refused.
 * </ol>
 *
 * <p>A string holding U+FFFD is refused before step 2: a lossy endpoint writes it for a token that
 * holds part of a character, so it cannot tell such a token from the character U+FFFD itself.
 *
 * <p>The inverse, {@link #text(int)}, is what this service writes: the decoded text, or the {@code
 * bytes:} form when the decoded text does not map back to the id. Thread-safe; results are cached
 * (at most one entry per vocabulary id and per distinct string that mapped).
 */
public final class TokenStrings {
  private static final String BYTES_PREFIX = "bytes:";
  private static final String TOKEN_ID_PREFIX = "token_id:";

  /** GPT-2's bytes_to_unicode: byte b is written as the character BYTE_CHARS[b]. */
  private static final char[] BYTE_CHARS = bytesToUnicode();

  private static final Map<Character, Integer> CHAR_BYTES = inverse(BYTE_CHARS);

  private final Tokenizer tokenizer;
  private final boolean byteLevel;
  private final Map<String, Integer> ids = new ConcurrentHashMap<>();
  private final Map<Integer, String> texts = new ConcurrentHashMap<>();

  public TokenStrings(Tokenizer tokenizer) {
    this.tokenizer = tokenizer;
    this.byteLevel = isByteLevel(tokenizer);
  }

  /**
   * Whether {@code tokenizer} is a byte-level BPE: its vocabulary spells the space byte {@code Ġ},
   * the newline {@code Ċ} or the tab {@code ĉ} (GPT-2's table), and that entry decodes to the byte.
   */
  static boolean isByteLevel(Tokenizer tokenizer) {
    String[][] probes = {{"Ġ", " "}, {"Ċ", "\n"}, {"ĉ", "\t"}};
    for (String[] p : probes) {
      OptionalInt id = tokenizer.tokenId(p[0]);
      if (id.isPresent() && decodesTo(tokenizer, id.getAsInt(), p[1])) {
        return true;
      }
    }
    return false;
  }

  public boolean byteLevel() {
    return byteLevel;
  }

  public Tokenizer tokenizer() {
    return tokenizer;
  }

  /**
   * The id {@code token} names (see the class comment).
   *
   * @throws IllegalArgumentException naming the string (JSON-quoted), the tokenizer and why it does
   *     not map
   */
  public int id(String token) {
    Integer cached = ids.get(token);
    if (cached != null) {
      return cached;
    }
    int id = resolve(token);
    ids.put(token, id);
    return id;
  }

  private int resolve(String token) {
    int vocab = tokenizer.vocabSize();
    if (token.startsWith(TOKEN_ID_PREFIX)) {
      try {
        int id = Integer.parseInt(token.substring(TOKEN_ID_PREFIX.length()));
        if (id >= 0 && id < vocab) {
          return id;
        }
      } catch (NumberFormatException e) {
        // not the token_id form: a text like any other
      }
    }
    if (token.indexOf('\uFFFD') >= 0) {
      throw refused(
          token,
          "it holds U+FFFD, an endpoint's replacement for part of a character, which a"
              + " partial-character token and the character U+FFFD itself both decode to; ask the endpoint for token ids (vLLM:"
              + " return_tokens_as_token_ids) or the bytes: form");
    }
    OptionalInt direct = tokenizer.tokenId(token);
    int a =
        direct.isPresent() && decodesTo(tokenizer, direct.getAsInt(), token)
            ? direct.getAsInt()
            : -1;
    int b = -1;
    if (byteLevel) {
      OptionalInt mapped =
          tokenizer.tokenId(byteLevelSpelling(token.getBytes(StandardCharsets.UTF_8)));
      if (mapped.isPresent() && decodesTo(tokenizer, mapped.getAsInt(), token)) {
        b = mapped.getAsInt();
      }
    }
    if (a >= 0 && b >= 0 && a != b) {
      throw refused(token, "ids " + a + " and " + b + " both decode to it (ambiguous)");
    }
    if (a >= 0 || b >= 0) {
      return a >= 0 ? a : b;
    }
    if (token.startsWith(BYTES_PREFIX)) {
      byte[] bytes = parseBytes(token.substring(BYTES_PREFIX.length()));
      if (bytes == null) {
        throw refused(token, "malformed bytes: form (expected \\xNN escapes)");
      }
      if (!byteLevel) {
        throw refused(token, "the bytes: form needs a byte-level BPE tokenizer");
      }
      OptionalInt id = tokenizer.tokenId(byteLevelSpelling(bytes));
      if (id.isPresent()) {
        return id.getAsInt();
      }
      throw refused(token, "no vocabulary entry spells these " + bytes.length + " bytes");
    }
    throw refused(token, "no id decodes to it");
  }

  private IllegalArgumentException refused(String token, String why) {
    return new IllegalArgumentException(
        "token "
            + new JsonPrimitive(token)
            + " does not map to an id of "
            + tokenizer.id()
            + ": "
            + why);
  }

  /**
   * The string an endpoint writes for {@code id}: its decoded text when that maps back to {@code
   * id} ({@link #id}), else, for a byte-level BPE, {@code bytes:} and the token's bytes as {@code
   * \xNN}; else the decoded text.
   */
  public String text(int id) {
    String cached = texts.get(id);
    if (cached != null) {
      return cached;
    }
    String decoded = tokenizer.decode(new int[] {id});
    String out = decoded;
    boolean exact;
    try {
      exact = id(decoded) == id;
    } catch (IllegalArgumentException e) {
      exact = false;
    }
    if (!exact && byteLevel) {
      byte[] bytes = bytes(id);
      StringBuilder b = new StringBuilder(BYTES_PREFIX);
      for (byte x : bytes) {
        b.append(String.format("\\x%02x", x & 0xff));
      }
      out = b.toString();
    }
    texts.put(id, out);
    return out;
  }

  /**
   * The bytes of {@code id}'s text: for a byte-level BPE token spelled wholly in GPT-2's table, the
   * bytes it stands for (a part of a character included); else its decoded text's UTF-8.
   */
  public byte[] bytes(int id) {
    if (byteLevel) {
      String spelled = tokenizer.token(id);
      ByteArrayOutputStream out = new ByteArrayOutputStream(spelled.length());
      boolean all = true;
      for (int i = 0; i < spelled.length() && all; i++) {
        Integer b = CHAR_BYTES.get(spelled.charAt(i));
        if (b == null) {
          all = false;
        } else {
          out.write(b);
        }
      }
      if (all) {
        return out.toByteArray();
      }
    }
    return tokenizer.decode(new int[] {id}).getBytes(StandardCharsets.UTF_8);
  }

  private static boolean decodesTo(Tokenizer tokenizer, int id, String text) {
    try {
      return tokenizer.decode(new int[] {id}).equals(text);
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /** The vocabulary spelling of {@code bytes} in GPT-2's byte-level alphabet. */
  public static String byteLevelSpelling(byte[] bytes) {
    char[] out = new char[bytes.length];
    for (int i = 0; i < bytes.length; i++) {
      out[i] = BYTE_CHARS[bytes[i] & 0xff];
    }
    return new String(out);
  }

  /** {@code \xNN} escapes and plain characters (their UTF-8); null when malformed or empty. */
  static byte[] parseBytes(String s) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int i = 0; i < s.length(); ) {
      if (s.startsWith("\\x", i)) {
        if (i + 4 > s.length()) {
          return null;
        }
        int hi = Character.digit(s.charAt(i + 2), 16);
        int lo = Character.digit(s.charAt(i + 3), 16);
        if (hi < 0 || lo < 0) {
          return null;
        }
        out.write(hi * 16 + lo);
        i += 4;
      } else {
        int cp = s.codePointAt(i);
        out.writeBytes(new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8));
        i += Character.charCount(cp);
      }
    }
    return out.size() == 0 ? null : out.toByteArray();
  }

  /**
   * GPT-2's {@code bytes_to_unicode} (openai/gpt-2, src/encoder.py): the printable bytes {@code
   * !..~}, {@code ¡..¬}, {@code ®..ÿ} stand for themselves, the other 68 for 256, 257, ... in byte
   * order.
   */
  private static char[] bytesToUnicode() {
    char[] out = new char[256];
    int n = 0;
    for (int b = 0; b < 256; b++) {
      boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      out[b] = printable ? (char) b : (char) (256 + n++);
    }
    return out;
  }

  private static Map<Character, Integer> inverse(char[] chars) {
    Map<Character, Integer> m = new java.util.HashMap<>();
    for (int b = 0; b < chars.length; b++) {
      m.put(chars[b], b);
    }
    return Map.copyOf(m);
  }
}
