package dev.distill.models.gpt;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import dev.distill.models.nn.LmConfig;
import java.math.BigDecimal;
import java.util.List;

/**
 * nanoGPT-shaped config; validated (all sizes > 0, nEmbd % nHead == 0, 0 <= dropout < 1).
 *
 * @param vocabSize number of token ids V
 * @param blockSize longest context T the model accepts (size of the position embedding)
 * @param nLayer number of transformer blocks
 * @param nHead attention heads per block; head size is {@code nEmbd / nHead}
 * @param nEmbd model width C
 * @param dropout dropout rate used in training forwards (embeddings, attention, residual outputs)
 */
public record GptConfig(
    int vocabSize, int blockSize, int nLayer, int nHead, int nEmbd, float dropout)
    implements LmConfig {

  private static final List<String> KEYS =
      List.of("vocabSize", "blockSize", "nLayer", "nHead", "nEmbd", "dropout");

  public GptConfig {
    requirePositive("vocabSize", vocabSize);
    requirePositive("blockSize", blockSize);
    requirePositive("nLayer", nLayer);
    requirePositive("nHead", nHead);
    requirePositive("nEmbd", nEmbd);
    if (nEmbd % nHead != 0) {
      throw new IllegalArgumentException(
          "nEmbd (" + nEmbd + ") must be divisible by nHead (" + nHead + ")");
    }
    if (!(dropout >= 0f && dropout < 1f)) {
      throw new IllegalArgumentException("dropout must be in [0, 1), got " + dropout);
    }
  }

  private static void requirePositive(String name, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException(name + " must be > 0, got " + value);
    }
  }

  /** Head size {@code nEmbd / nHead}. */
  public int headSize() {
    return nEmbd / nHead;
  }

  /**
   * Exact number of scalars in the {@link Gpt} block's parameters.
   *
   * <p>{@code V*C (wte, tied with the head) + T*C (wpe) + nLayer * (12*C^2 + 13*C) + 2*C (ln_f)},
   * where one layer is ln1 (2C) + qkv (3C*C + 3C) + attention proj (C*C + C) + ln2 (2C) + fc (4C*C
   * + 4C) + mlp proj (4C*C + C).
   */
  @Override
  public long flopsPerToken() {
    long d = nEmbd;
    long nonEmbedding = nLayer * 12L * d * d;
    return 2 * nonEmbedding + 2L * nLayer * blockSize * d + 2L * vocabSize * d;
  }

  @Override
  public long parameterCount() {
    long c = nEmbd;
    long perLayer = 12 * c * c + 13 * c;
    return (long) vocabSize * c + (long) blockSize * c + nLayer * perLayer + 2 * c;
  }

  /** A JSON object with exactly the record's component names as keys. */
  @Override
  public String toJson() {
    JsonObject json = new JsonObject();
    json.addProperty("vocabSize", vocabSize);
    json.addProperty("blockSize", blockSize);
    json.addProperty("nLayer", nLayer);
    json.addProperty("nHead", nHead);
    json.addProperty("nEmbd", nEmbd);
    // Through BigDecimal(String) so 0.1f is written as 0.1, not 0.10000000149011612.
    json.addProperty("dropout", new BigDecimal(Float.toString(dropout)));
    return json.toString();
  }

  /**
   * Parses {@link #toJson()}'s output.
   *
   * @throws IllegalArgumentException naming the key that is unknown, missing, or not a number of
   *     the right kind, or if the values fail validation
   */
  public static GptConfig fromJson(String json) {
    JsonObject obj;
    try {
      JsonElement root = JsonParser.parseString(json);
      if (!root.isJsonObject()) {
        throw new IllegalArgumentException("GptConfig JSON must be an object: " + json);
      }
      obj = root.getAsJsonObject();
    } catch (JsonParseException e) {
      throw new IllegalArgumentException("GptConfig JSON is malformed: " + e.getMessage(), e);
    }
    for (String key : obj.keySet()) {
      if (!KEYS.contains(key)) {
        throw new IllegalArgumentException("unknown GptConfig key '" + key + "'");
      }
    }
    return new GptConfig(
        intOf(obj, "vocabSize"),
        intOf(obj, "blockSize"),
        intOf(obj, "nLayer"),
        intOf(obj, "nHead"),
        intOf(obj, "nEmbd"),
        number(obj, "dropout").floatValue());
  }

  private static BigDecimal number(JsonObject obj, String key) {
    JsonElement e = obj.get(key);
    if (e == null || e.isJsonNull()) {
      throw new IllegalArgumentException("missing GptConfig key '" + key + "'");
    }
    if (!e.isJsonPrimitive() || !((JsonPrimitive) e).isNumber()) {
      throw new IllegalArgumentException("GptConfig key '" + key + "' is not a number: " + e);
    }
    return e.getAsBigDecimal();
  }

  private static int intOf(JsonObject obj, String key) {
    BigDecimal value = number(obj, key);
    try {
      return value.intValueExact();
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("GptConfig key '" + key + "' is not an int: " + value, e);
    }
  }
}
