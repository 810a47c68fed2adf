package dev.distill.models.hf;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.distill.models.nn.LmConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * The architecture of a Hugging Face decoder-only checkpoint, read from its {@code config.json}.
 * Two families:
 *
 * <ul>
 *   <li>{@link Family#GPT2}: {@code GPT2LMHeadModel} (learned positions, pre-LayerNorm blocks, GELU
 *       MLP, fused qkv with biases, tied head);
 *   <li>{@link Family#LLAMA}: {@code LlamaForCausalLM}, {@code Qwen2ForCausalLM}, {@code
 *       MistralForCausalLM} (RoPE with {@code rope_theta}, RMSNorm, SwiGLU MLP, grouped-query
 *       attention, tied or untied head, q/k/v biases where Qwen2 has them).
 * </ul>
 *
 * <p>Keys that change the computation and are not implemented (rope scaling, a sliding window
 * shorter than the context, tensor-parallel slicing, upcast/reordered attention) fail with a
 * message naming the key; keys this class does not know fail too, so a config is never silently
 * half-read. The original JSON is kept and written back on export.
 *
 * @param maxPositions the longest context (n_positions / max_position_embeddings)
 * @param headDim per-head size (Llama's {@code head_dim}, else hidden / heads)
 * @param qkvBias q, k and v projections carry biases (GPT-2, Qwen2, Llama's attention_bias)
 * @param outBias the attention output projection carries a bias (GPT-2, Llama's attention_bias)
 * @param mlpBias the MLP projections carry biases (GPT-2, Llama's mlp_bias)
 * @param activation {@code gelu}, {@code gelu_new} (GPT-2's tanh approximation) or {@code silu}
 */
public record HfConfig(
    Family family,
    String architecture,
    String modelType,
    int vocabSize,
    int maxPositions,
    int nLayer,
    int nHead,
    int nKvHead,
    int hidden,
    int headDim,
    int intermediate,
    double ropeTheta,
    float normEps,
    boolean tiedEmbeddings,
    boolean qkvBias,
    boolean outBias,
    boolean mlpBias,
    String activation,
    String json)
    implements LmConfig {

  /** The two implemented families. */
  public enum Family {
    GPT2,
    LLAMA
  }

  private static final Gson GSON = new GsonBuilder().setPrettyPrinting().serializeNulls().create();

  /** Keys every family may carry that do not change the forward computation. */
  private static final Set<String> NEUTRAL =
      Set.of(
          "architectures",
          "model_type",
          "torch_dtype",
          "transformers_version",
          "use_cache",
          "initializer_range",
          "bos_token_id",
          "eos_token_id",
          "pad_token_id",
          "_name_or_path",
          "tie_word_embeddings",
          "vocab_size");

  private static final Set<String> GPT2_KEYS =
      Set.of(
          "activation_function",
          "attn_pdrop",
          "embd_pdrop",
          "resid_pdrop",
          "layer_norm_epsilon",
          "n_embd",
          "n_head",
          "n_inner",
          "n_layer",
          "n_positions",
          "n_ctx",
          "reorder_and_upcast_attn",
          "scale_attn_by_inverse_layer_idx",
          "scale_attn_weights",
          "summary_activation",
          "summary_first_dropout",
          "summary_proj_to_labels",
          "summary_type",
          "summary_use_proj",
          "task_specific_params");

  private static final Set<String> LLAMA_KEYS =
      Set.of(
          "attention_bias",
          "attention_dropout",
          "head_dim",
          "hidden_act",
          "hidden_size",
          "intermediate_size",
          "max_position_embeddings",
          "mlp_bias",
          "num_attention_heads",
          "num_hidden_layers",
          "num_key_value_heads",
          "pretraining_tp",
          "rms_norm_eps",
          "rope_scaling",
          "rope_theta",
          "sliding_window",
          "use_sliding_window",
          "max_window_layers");

  public HfConfig {
    Objects.requireNonNull(family, "family");
    requirePositive("vocab_size", vocabSize);
    requirePositive("max positions", maxPositions);
    requirePositive("layers", nLayer);
    requirePositive("heads", nHead);
    requirePositive("key/value heads", nKvHead);
    requirePositive("hidden size", hidden);
    requirePositive("head size", headDim);
    requirePositive("intermediate size", intermediate);
    if (nHead % nKvHead != 0) {
      throw new IllegalArgumentException(
          "num_attention_heads " + nHead + " is not a multiple of num_key_value_heads " + nKvHead);
    }
    if (family == Family.GPT2 && hidden != nHead * headDim) {
      throw new IllegalArgumentException(
          "n_embd " + hidden + " is not a multiple of n_head " + nHead);
    }
    if (!Set.of("gelu", "gelu_new", "gelu_pytorch_tanh", "silu").contains(activation)) {
      throw new IllegalArgumentException("unsupported activation '" + activation + "'");
    }
  }

  private static void requirePositive(String what, long v) {
    if (v < 1) {
      throw new IllegalArgumentException(what + " must be positive, got " + v);
    }
  }

  /**
   * Parses a {@code config.json}.
   *
   * @throws IllegalArgumentException naming the architecture, key or value that is not supported
   */
  public static HfConfig parse(String text) {
    JsonObject o;
    try {
      o = JsonParser.parseString(text).getAsJsonObject();
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("config.json is not a JSON object: " + e.getMessage(), e);
    }
    String arch = architecture(o);
    String type = string(o, "model_type", null);
    return switch (arch) {
      case "GPT2LMHeadModel" -> gpt2(o, arch, type);
      case "LlamaForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM" -> llama(o, arch, type);
      default ->
          throw new IllegalArgumentException(
              "architecture '"
                  + arch
                  + "' is not supported; supported: GPT2LMHeadModel, LlamaForCausalLM,"
                  + " Qwen2ForCausalLM, MistralForCausalLM");
    };
  }

  private static String architecture(JsonObject o) {
    JsonElement a = o.get("architectures");
    if (a == null || !a.isJsonArray() || a.getAsJsonArray().size() != 1) {
      throw new IllegalArgumentException(
          "config.json needs \"architectures\" with exactly one entry, got " + a);
    }
    return a.getAsJsonArray().get(0).getAsString();
  }

  private static void checkKeys(JsonObject o, Set<String> family, String arch) {
    Set<String> unknown = new TreeSet<>();
    for (String key : o.keySet()) {
      if (!NEUTRAL.contains(key) && !family.contains(key)) {
        unknown.add(key);
      }
    }
    if (!unknown.isEmpty()) {
      throw new IllegalArgumentException(
          "config.json of " + arch + " has keys this loader does not implement: " + unknown);
    }
  }

  private static HfConfig gpt2(JsonObject o, String arch, String type) {
    checkKeys(o, GPT2_KEYS, arch);
    refuseIf(bool(o, "scale_attn_by_inverse_layer_idx", false), "scale_attn_by_inverse_layer_idx");
    refuseIf(bool(o, "reorder_and_upcast_attn", false), "reorder_and_upcast_attn");
    refuseIf(!bool(o, "scale_attn_weights", true), "scale_attn_weights=false");
    refuseIf(!bool(o, "tie_word_embeddings", true), "tie_word_embeddings=false");
    int hidden = integer(o, "n_embd", null);
    int heads = integer(o, "n_head", null);
    int inner = isNull(o, "n_inner") ? 4 * hidden : integer(o, "n_inner", null);
    return new HfConfig(
        Family.GPT2,
        arch,
        type == null ? "gpt2" : type,
        integer(o, "vocab_size", null),
        integer(o, "n_positions", null),
        integer(o, "n_layer", null),
        heads,
        heads,
        hidden,
        hidden / heads,
        inner,
        0,
        (float) number(o, "layer_norm_epsilon", 1e-5),
        true,
        true,
        true,
        true,
        string(o, "activation_function", "gelu_new"),
        GSON.toJson(o));
  }

  private static HfConfig llama(JsonObject o, String arch, String type) {
    checkKeys(o, LLAMA_KEYS, arch);
    refuseIf(!isNull(o, "rope_scaling"), "rope_scaling=" + o.get("rope_scaling"));
    refuseIf(integer(o, "pretraining_tp", 1) != 1, "pretraining_tp != 1");
    int maxPositions = integer(o, "max_position_embeddings", null);
    boolean slidingOn = bool(o, "use_sliding_window", !arch.equals("Qwen2ForCausalLM"));
    if (slidingOn && !isNull(o, "sliding_window")) {
      // a window at least as long as the context never masks anything
      refuseIf(
          integer(o, "sliding_window", null) < maxPositions,
          "sliding_window=" + o.get("sliding_window") + " shorter than the context");
    }
    int hidden = integer(o, "hidden_size", null);
    int heads = integer(o, "num_attention_heads", null);
    int kvHeads = integer(o, "num_key_value_heads", heads);
    int headDim = isNull(o, "head_dim") ? hidden / heads : integer(o, "head_dim", null);
    boolean qwen2 = arch.equals("Qwen2ForCausalLM");
    boolean attentionBias = bool(o, "attention_bias", false);
    String act = string(o, "hidden_act", "silu");
    refuseIf(!act.equals("silu"), "hidden_act=" + act);
    return new HfConfig(
        Family.LLAMA,
        arch,
        type == null ? "llama" : type,
        integer(o, "vocab_size", null),
        maxPositions,
        integer(o, "num_hidden_layers", null),
        heads,
        kvHeads,
        hidden,
        headDim,
        integer(o, "intermediate_size", null),
        number(o, "rope_theta", 10000.0),
        (float) number(o, "rms_norm_eps", 1e-6),
        bool(o, "tie_word_embeddings", false),
        qwen2 || attentionBias,
        attentionBias,
        bool(o, "mlp_bias", false),
        act,
        GSON.toJson(o));
  }

  private static void refuseIf(boolean unsupported, String what) {
    if (unsupported) {
      throw new IllegalArgumentException("config.json: " + what + " is not supported");
    }
  }

  private static boolean isNull(JsonObject o, String key) {
    return !o.has(key) || o.get(key) instanceof JsonNull;
  }

  private static int integer(JsonObject o, String key, Integer dflt) {
    if (isNull(o, key)) {
      if (dflt == null) {
        throw new IllegalArgumentException("config.json: missing \"" + key + "\"");
      }
      return dflt;
    }
    double d = number(o, key);
    if (d != Math.rint(d)) {
      throw new IllegalArgumentException("config.json: \"" + key + "\" is not an integer: " + d);
    }
    return Math.toIntExact((long) d);
  }

  private static double number(JsonObject o, String key, double dflt) {
    return isNull(o, key) ? dflt : number(o, key);
  }

  /** The number at present, non-null {@code key}. */
  private static double number(JsonObject o, String key) {
    try {
      return o.get(key).getAsDouble();
    } catch (UnsupportedOperationException | IllegalStateException | NumberFormatException e) {
      throw new IllegalArgumentException(
          "config.json: \"" + key + "\" is not a number: " + o.get(key), e);
    }
  }

  private static boolean bool(JsonObject o, String key, boolean dflt) {
    if (isNull(o, key)) {
      return dflt;
    }
    JsonElement e = o.get(key);
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
      throw new IllegalArgumentException("config.json: \"" + key + "\" is not a boolean: " + e);
    }
    return e.getAsBoolean();
  }

  private static String string(JsonObject o, String key, String dflt) {
    if (isNull(o, key)) {
      return dflt;
    }
    return o.get(key).getAsString();
  }

  /**
   * A new, smaller (or larger) config of the same family and form, for a student with random
   * initial weights: the given sizes replace the teacher's, everything else is kept.
   */
  public HfConfig resized(int nLayer, int hidden, int nHead, int nKvHead, int intermediate) {
    JsonObject o = JsonParser.parseString(json).getAsJsonObject();
    if (family == Family.GPT2) {
      o.addProperty("n_layer", nLayer);
      o.addProperty("n_embd", hidden);
      o.addProperty("n_head", nHead);
      o.addProperty("n_inner", intermediate);
    } else {
      o.addProperty("num_hidden_layers", nLayer);
      o.addProperty("hidden_size", hidden);
      o.addProperty("num_attention_heads", nHead);
      o.addProperty("num_key_value_heads", nKvHead);
      o.addProperty("intermediate_size", intermediate);
      o.addProperty("head_dim", hidden / nHead);
    }
    return parse(GSON.toJson(o));
  }

  /** The config.json to write on export: the original keys, with {@code torch_dtype} float32. */
  @Override
  public String toJson() {
    JsonObject o = JsonParser.parseString(json).getAsJsonObject();
    o.addProperty("torch_dtype", "float32");
    return GSON.toJson(o);
  }

  @Override
  public int blockSize() {
    return maxPositions;
  }

  /** Block linear layers of one transformer block: (name suffix, out, in). */
  List<long[]> blockLinearShapes() {
    List<long[]> out = new ArrayList<>();
    long q = (long) nHead * headDim;
    long kv = (long) nKvHead * headDim;
    if (family == Family.GPT2) {
      out.add(new long[] {q + 2 * kv, hidden});
      out.add(new long[] {hidden, q});
      out.add(new long[] {intermediate, hidden});
      out.add(new long[] {hidden, intermediate});
    } else {
      out.add(new long[] {q, hidden});
      out.add(new long[] {kv, hidden});
      out.add(new long[] {kv, hidden});
      out.add(new long[] {hidden, q});
      out.add(new long[] {intermediate, hidden});
      out.add(new long[] {intermediate, hidden});
      out.add(new long[] {hidden, intermediate});
    }
    return out;
  }

  @Override
  public long parameterCount() {
    long n = (long) vocabSize * hidden;
    if (family == Family.GPT2) {
      n += (long) maxPositions * hidden;
    }
    if (!tiedEmbeddings) {
      n += (long) vocabSize * hidden;
    }
    long perLayer = 0;
    for (long[] s : blockLinearShapes()) {
      perLayer += s[0] * s[1];
    }
    long q = (long) nHead * headDim;
    long kv = (long) nKvHead * headDim;
    if (qkvBias) {
      perLayer += q + 2 * kv;
    }
    if (outBias) {
      perLayer += hidden;
    }
    if (mlpBias) {
      perLayer += family == Family.GPT2 ? intermediate + hidden : 2L * intermediate + hidden;
    }
    // norms: LayerNorm gamma + beta, RMSNorm weight only
    int normParams = family == Family.GPT2 ? 2 * hidden : hidden;
    perLayer += 2L * normParams;
    return n + nLayer * perLayer + normParams;
  }

  @Override
  public long flopsPerToken() {
    long linear = 0;
    for (long[] s : blockLinearShapes()) {
      linear += s[0] * s[1];
    }
    return 2L * nLayer * linear
        + 2L * nLayer * maxPositions * nHead * headDim
        + 2L * vocabSize * hidden;
  }

  @Override
  public String toString() {
    return architecture
        + "(layers="
        + nLayer
        + ", hidden="
        + hidden
        + ", heads="
        + nHead
        + "/"
        + nKvHead
        + ", vocab="
        + vocabSize
        + ")";
  }
}
