package dev.distill.models.hf;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.distill.models.gpt.Gpt;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.nn.LinearLayer;
import dev.distill.models.nn.LinearMode;
import dev.distill.models.nn.Quantizers;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.models.tokenizer.Tokenizer;
import dev.distill.models.tokenizer.Tokenizers;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Hugging Face model folders in and out: {@link #load} reads {@code config.json}, the weights
 * ({@code model.safetensors}, or the shards named by {@code model.safetensors.index.json}; fp32,
 * fp16 or bf16) and the tokenizer files into a {@link LanguageModel} ({@link HfDecoder}); {@link
 * #export} writes a model back as a folder that {@code transformers} and vLLM load as they are
 * ({@code config.json}, {@code model.safetensors} in float32, {@code generation_config.json}, the
 * tokenizer files). Our GPT exports as {@code GPT2LMHeadModel} with the exact GELU.
 */
public final class HfModels {

  public static final String CONFIG = "config.json";
  public static final String WEIGHTS = "model.safetensors";
  public static final String INDEX = "model.safetensors.index.json";
  public static final String GENERATION_CONFIG = "generation_config.json";

  private static final Gson GSON =
      new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

  /** Checkpoint tensors that are buffers, not weights: recomputed here, so skipped on load. */
  private static final Set<String> BUFFER_SUFFIXES =
      Set.of(".attn.bias", ".attn.masked_bias", ".rotary_emb.inv_freq");

  private HfModels() {}

  /** Whether {@code dir} looks like a Hugging Face model folder (config.json + safetensors). */
  public static boolean isModelFolder(Path dir) {
    return Files.isRegularFile(dir.resolve(CONFIG))
        && (Files.isRegularFile(dir.resolve(WEIGHTS)) || Files.isRegularFile(dir.resolve(INDEX)));
  }

  /** {@link #load(Path, LinearMode)} in {@link LinearMode#DENSE}. */
  public static LanguageModel load(Path dir) throws IOException {
    return load(dir, LinearMode.DENSE);
  }

  /**
   * Loads a Hugging Face checkpoint folder, its block linear layers computing in {@code mode} (a
   * pretrained model can start training as a ternary or self-compressing student; the extra
   * self-compression parameters start at their defaults).
   *
   * @throws IOException naming the file and the reason: a missing file, an unsupported architecture
   *     or config key, a tensor the model lacks or does not have, a wrong shape
   */
  public static LanguageModel load(Path dir, LinearMode mode) throws IOException {
    if (mode == LinearMode.LOW_RANK) {
      throw new IllegalArgumentException(
          "a pretrained model loads dense (or ternary, act8, self-compressing); factorise it after");
    }
    HfConfig config;
    try {
      config = HfConfig.parse(read(dir.resolve(CONFIG)));
    } catch (IllegalArgumentException e) {
      throw new IOException(dir.resolve(CONFIG) + ": " + e.getMessage(), e);
    }
    Map<String, SafeTensors.Tensor> tensors = weights(dir);
    Tokenizer tokenizer = Tokenizers.load(dir);
    HfDecoder block = new HfDecoder(config, mode, Map.of());
    Set<String> used = new LinkedHashSet<>();
    Set<String> missing = new TreeSet<>();
    Set<String> transposed = conv1dWeights(block);
    for (Pair<String, Parameter> p : block.getParameters()) {
      String name = p.getKey();
      SafeTensors.Tensor t = tensors.get(name);
      if (t == null) {
        if (name.endsWith(".bits") || name.endsWith(".exp")) {
          continue; // self-compression parameters start at their initial values
        }
        missing.add(name);
        continue;
      }
      used.add(name);
      Shape expected = p.getValue().getShape();
      float[] values = t.values();
      long[] shape = t.shape();
      if (transposed.contains(name)) {
        values = transpose(values, (int) shape[0], (int) shape[1]);
        shape = new long[] {shape[1], shape[0]};
      }
      if (!expected.equals(new Shape(shape))) {
        throw new IOException(
            dir
                + ": tensor "
                + name
                + " has shape "
                + new Shape(t.shape())
                + ", "
                + config.architecture()
                + " of this config needs "
                + expected
                + (transposed.contains(name) ? " (transposed: a GPT-2 Conv1D weight)" : ""));
      }
      float[] v = values;
      p.getValue().setInitializer((manager, s, type) -> manager.create(v, s));
    }
    if (!missing.isEmpty()) {
      throw new IOException(dir + ": checkpoint lacks tensors " + missing);
    }
    Set<String> unused = new TreeSet<>();
    for (String name : tensors.keySet()) {
      boolean buffer = BUFFER_SUFFIXES.stream().anyMatch(name::endsWith);
      boolean tiedCopy = name.equals("lm_head.weight") && config.tiedEmbeddings();
      if (!used.contains(name) && !buffer && !tiedCopy) {
        unused.add(name);
      }
    }
    if (!unused.isEmpty()) {
      throw new IOException(
          dir + ": tensors this " + config.architecture() + " does not have: " + unused);
    }
    return LanguageModel.fromInitializers(block, tokenizer);
  }

  /** The GPT-2 block linear weights, which the checkpoint stores (in, out) (Conv1D). */
  private static Set<String> conv1dWeights(HfDecoder block) {
    Set<String> out = new LinkedHashSet<>();
    if (block.config().family() == HfConfig.Family.GPT2) {
      for (String name : block.linears().keySet()) {
        out.add(name + ".weight");
      }
    }
    return out;
  }

  private static Map<String, SafeTensors.Tensor> weights(Path dir) throws IOException {
    Path index = dir.resolve(INDEX);
    if (!Files.isRegularFile(index)) {
      Path single = dir.resolve(WEIGHTS);
      if (!Files.isRegularFile(single)) {
        throw new IOException(dir + ": neither " + WEIGHTS + " nor " + INDEX + " found");
      }
      return SafeTensors.read(single);
    }
    Map<String, String> weightMap = new LinkedHashMap<>();
    try {
      JsonObject map = JsonParser.parseString(read(index)).getAsJsonObject();
      for (Map.Entry<String, JsonElement> e : map.getAsJsonObject("weight_map").entrySet()) {
        weightMap.put(e.getKey(), e.getValue().getAsString());
      }
    } catch (RuntimeException e) {
      throw new IOException(index + ": not a safetensors index (no weight_map)", e);
    }
    Map<String, SafeTensors.Tensor> out = new LinkedHashMap<>();
    for (String shard : new LinkedHashSet<>(weightMap.values())) {
      Path file = dir.resolve(shard).normalize();
      if (!dir.normalize().equals(file.getParent())) {
        throw new IOException(index + ": shard name " + shard + " leaves the folder");
      }
      if (!Files.isRegularFile(file)) {
        throw new IOException(index + ": shard " + shard + " is missing");
      }
      for (Map.Entry<String, SafeTensors.Tensor> e : SafeTensors.read(file).entrySet()) {
        if (!shard.equals(weightMap.get(e.getKey()))) {
          throw new IOException(
              file + ": tensor " + e.getKey() + " is not mapped to this shard in " + INDEX);
        }
        out.put(e.getKey(), e.getValue());
      }
    }
    Set<String> absent = new TreeSet<>(weightMap.keySet());
    absent.removeAll(out.keySet());
    if (!absent.isEmpty()) {
      throw new IOException(index + ": tensors named in weight_map but in no shard: " + absent);
    }
    return out;
  }

  /**
   * Writes {@code lm} as a Hugging Face folder {@code dir} (created; must not exist or be empty).
   * Dense, self-compressing (its quantised weights) and low-rank (U V multiplied out) models export
   * exactly; a ternary or 8-bit-activation model is refused, since its activation quantisation has
   * no Hugging Face form.
   */
  public static void export(LanguageModel lm, Path dir) throws IOException {
    LinearMode mode = lm.mode();
    if (mode == LinearMode.TERNARY || mode == LinearMode.ACT8) {
      throw new IllegalArgumentException(
          "a "
              + mode
              + " model quantises its activations to 8 bits, which a Hugging Face "
              + "checkpoint cannot express; export a DENSE or SELF_COMPRESSING student");
    }
    Files.createDirectories(dir);
    try (var entries = Files.list(dir)) {
      if (entries.findAny().isPresent()) {
        throw new IOException(dir + " is not empty");
      }
    }
    Map<String, SafeTensors.Tensor> tensors;
    String configJson;
    if (lm.block() instanceof HfDecoder block) {
      tensors = hfTensors(block);
      configJson = block.config().toJson();
    } else if (lm.block() instanceof Gpt gpt) {
      tensors = gpt2Tensors(gpt);
      configJson = gpt2Config(gpt.config(), lm.tokenizer());
    } else {
      throw new IllegalArgumentException("no Hugging Face form for " + lm.block());
    }
    Files.writeString(dir.resolve(CONFIG), configJson, StandardCharsets.UTF_8);
    SafeTensors.write(dir.resolve(WEIGHTS), tensors);
    Files.writeString(
        dir.resolve(GENERATION_CONFIG), generationConfig(lm.tokenizer()), StandardCharsets.UTF_8);
    if (lm.tokenizer() instanceof CharTokenizer chars) {
      // transformers cannot read our char tokenizer file; write the same vocabulary its way
      chars.saveHuggingFace(dir);
    } else {
      lm.tokenizer().saveTo(dir);
    }
  }

  private static Map<String, SafeTensors.Tensor> hfTensors(HfDecoder block) {
    Map<String, SafeTensors.Tensor> out = new LinkedHashMap<>();
    Set<String> conv1d = conv1dWeights(block);
    Map<String, Parameter> params = new LinkedHashMap<>();
    for (Pair<String, Parameter> p : block.getParameters()) {
      params.put(p.getKey(), p.getValue());
    }
    Set<String> done = new LinkedHashSet<>();
    for (LinearLayer l : block.linears().values()) {
      float[] w = effectiveWeight(l.name(), l.mode(), params);
      String name = l.name() + ".weight";
      long[] shape = {l.out(), l.in()};
      if (conv1d.contains(name)) {
        w = transpose(w, (int) l.out(), (int) l.in());
        shape = new long[] {l.in(), l.out()};
      }
      out.put(name, new SafeTensors.Tensor(shape, w));
      done.add(l.name() + ".weight");
      done.add(l.name() + ".u");
      done.add(l.name() + ".v");
      done.add(l.name() + ".bits");
      done.add(l.name() + ".exp");
    }
    for (Map.Entry<String, Parameter> e : params.entrySet()) {
      if (!done.contains(e.getKey())) {
        NDArray a = e.getValue().getArray();
        out.put(e.getKey(), new SafeTensors.Tensor(a.getShape().getShape(), a.toFloatArray()));
      }
    }
    return out;
  }

  /** Our GPT's parameters under GPT-2's names (Conv1D weights transposed to (in, out)). */
  private static Map<String, SafeTensors.Tensor> gpt2Tensors(Gpt gpt) {
    Map<String, Parameter> params = new LinkedHashMap<>();
    for (Pair<String, Parameter> p : gpt.getParameters()) {
      params.put(p.getKey(), p.getValue());
    }
    Map<String, SafeTensors.Tensor> out = new LinkedHashMap<>();
    out.put("transformer.wte.weight", tensor(params.get("wte")));
    out.put("transformer.wpe.weight", tensor(params.get("wpe")));
    Map<String, String> linears =
        Map.of(
            "attn",
            "attn.c_attn",
            "attnProj",
            "attn.c_proj",
            "fc",
            "mlp.c_fc",
            "mlpProj",
            "mlp.c_proj");
    for (int i = 0; i < gpt.config().nLayer(); i++) {
      String ours = "h" + i + ".";
      String theirs = "transformer.h." + i + ".";
      out.put(theirs + "ln_1.weight", tensor(params.get(ours + "ln1.gamma")));
      out.put(theirs + "ln_1.bias", tensor(params.get(ours + "ln1.beta")));
      out.put(theirs + "ln_2.weight", tensor(params.get(ours + "ln2.gamma")));
      out.put(theirs + "ln_2.bias", tensor(params.get(ours + "ln2.beta")));
      for (Map.Entry<String, String> e : linears.entrySet()) {
        String name = ours + e.getKey();
        long[] shape = Gpt.linearShapes(gpt.config()).get(name);
        float[] w = effectiveWeight(name, gpt.mode(), params);
        out.put(
            theirs + e.getValue() + ".weight",
            new SafeTensors.Tensor(
                new long[] {shape[1], shape[0]}, transpose(w, (int) shape[0], (int) shape[1])));
        out.put(theirs + e.getValue() + ".bias", tensor(params.get(name + ".bias")));
      }
    }
    out.put("transformer.ln_f.weight", tensor(params.get("lnF.gamma")));
    out.put("transformer.ln_f.bias", tensor(params.get("lnF.beta")));
    return out;
  }

  /**
   * The effective float32 weight (out, in) of block linear layer {@code name}: the weight of a
   * dense layer, U V of a low-rank one, the quantised weight of a self-compressing one.
   */
  private static float[] effectiveWeight(
      String name, LinearMode mode, Map<String, Parameter> params) {
    switch (mode) {
      case DENSE:
        return params.get(name + ".weight").getArray().toFloatArray();
      case LOW_RANK:
        try (NDArray w =
            params.get(name + ".u").getArray().matMul(params.get(name + ".v").getArray())) {
          return w.toFloatArray();
        }
      case SELF_COMPRESSING:
        NDArray w = params.get(name + ".weight").getArray();
        try (var scratch = w.getManager().newSubManager()) {
          NDArray wd = w.duplicate();
          wd.attach(scratch);
          return Quantizers.selfCompress(
                  wd,
                  params.get(name + ".bits").getArray().duplicate(),
                  params.get(name + ".exp").getArray().duplicate())
              .toFloatArray();
        }
      default:
        throw new IllegalArgumentException("no exact float weights for " + mode);
    }
  }

  private static SafeTensors.Tensor tensor(Parameter p) {
    NDArray a = p.getArray();
    return new SafeTensors.Tensor(a.getShape().getShape(), a.toFloatArray());
  }

  private static String gpt2Config(GptConfig c, Tokenizer tokenizer) {
    JsonObject o = new JsonObject();
    com.google.gson.JsonArray arch = new com.google.gson.JsonArray();
    arch.add("GPT2LMHeadModel");
    o.add("architectures", arch);
    o.addProperty("model_type", "gpt2");
    // our GPT uses the exact GELU (torch.nn.GELU), which GPT-2's config names "gelu"
    o.addProperty("activation_function", "gelu");
    o.addProperty("vocab_size", c.vocabSize());
    o.addProperty("n_positions", c.blockSize());
    o.addProperty("n_embd", c.nEmbd());
    o.addProperty("n_layer", c.nLayer());
    o.addProperty("n_head", c.nHead());
    o.add("n_inner", com.google.gson.JsonNull.INSTANCE);
    o.addProperty("layer_norm_epsilon", 1e-5);
    o.addProperty("attn_pdrop", c.dropout());
    o.addProperty("embd_pdrop", c.dropout());
    o.addProperty("resid_pdrop", c.dropout());
    o.addProperty("scale_attn_weights", true);
    o.addProperty("tie_word_embeddings", true);
    o.addProperty("torch_dtype", "float32");
    tokenizer.specialTokens().bos().ifPresent(id -> o.addProperty("bos_token_id", id));
    tokenizer.specialTokens().eos().ifPresent(id -> o.addProperty("eos_token_id", id));
    return new GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(o);
  }

  private static String generationConfig(Tokenizer tokenizer) {
    JsonObject o = new JsonObject();
    tokenizer.specialTokens().bos().ifPresent(id -> o.addProperty("bos_token_id", id));
    tokenizer.specialTokens().eos().ifPresent(id -> o.addProperty("eos_token_id", id));
    tokenizer.specialTokens().pad().ifPresent(id -> o.addProperty("pad_token_id", id));
    o.addProperty("do_sample", false);
    return GSON.toJson(o);
  }

  private static float[] transpose(float[] a, int rows, int cols) {
    float[] t = new float[a.length];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        t[c * rows + r] = a[r * cols + c];
      }
    }
    return t;
  }

  private static String read(Path file) throws IOException {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new IOException("missing " + file, e);
    }
  }
}
