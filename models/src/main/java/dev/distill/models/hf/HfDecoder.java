package dev.distill.models.hf;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import dev.distill.models.nn.Activations;
import dev.distill.models.nn.Attention;
import dev.distill.models.nn.CausalLm;
import dev.distill.models.nn.LinearLayer;
import dev.distill.models.nn.LinearMode;
import dev.distill.models.nn.Norms;
import dev.distill.models.nn.ParameterRegistry;
import dev.distill.models.nn.Rope;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A Hugging Face decoder-only model of either family of {@link HfConfig}, built on the same parts
 * as our GPT ({@link LinearLayer}, {@link Attention}, {@link Norms}), with the parameter names of
 * the checkpoint (so loading and export map names one to one).
 *
 * <p>GPT-2 ({@code transformers/models/gpt2/modeling_gpt2.py}): {@code x = wte[t] + wpe[p]}; per
 * block {@code x += c_proj(attn(c_attn(ln_1(x))))}, {@code x += mlp.c_proj(act(c_fc(ln_2(x))))};
 * {@code logits = ln_f(x) wte^T}. The checkpoint stores the Conv1D weights (in, out); this block
 * keeps them (out, in) like every {@link LinearLayer}, and {@link HfModels} transposes on load and
 * export.
 *
 * <p>Llama family ({@code transformers/models/llama/modeling_llama.py}, Qwen2 and Mistral alike):
 * {@code x = embed_tokens[t]}; per block {@code x += o_proj(attn(rope(q_proj(h)), rope(k_proj(h)),
 * v_proj(h)))} with {@code h = input_layernorm(x)} (RMSNorm), then {@code x +=
 * down_proj(silu(gate_proj(h)) * up_proj(h))} with {@code h = post_attention_layernorm(x)}; {@code
 * logits = norm(x) W^T} with W = lm_head, or embed_tokens when tied.
 */
public final class HfDecoder extends CausalLm {

  private static final byte VERSION = 1;

  private final HfConfig config;
  private final LinearMode mode;
  private final Map<String, Integer> ranks;
  private final Attention.Spec attention;
  private final Parameter embed;
  private final Parameter positions;
  private final Parameter head;
  private final List<Block> blocks;
  private final Norm finalNorm;
  private final Map<String, LinearLayer> linears = new LinkedHashMap<>();

  private record Norm(Parameter weight, Parameter bias) {}

  /**
   * One block; GPT-2 uses qkv (fused in the checkpoint), Llama q, k, v (fused in the forward, under
   * {@code qkvName}); GPT-2 has no gate.
   */
  private record Block(
      Norm norm1,
      LinearLayer qkv,
      String qkvName,
      LinearLayer q,
      LinearLayer k,
      LinearLayer v,
      LinearLayer out,
      Norm norm2,
      LinearLayer gate,
      LinearLayer up,
      LinearLayer down) {}

  public HfDecoder(HfConfig config) {
    this(config, LinearMode.DENSE, Map.of());
  }

  /**
   * A model whose block linear layers compute in {@code mode}; {@code ranks} gives the rank of each
   * block linear layer (by name, e.g. {@code model.layers.0.mlp.up_proj}) for {@link
   * LinearMode#LOW_RANK} and must be empty otherwise.
   */
  public HfDecoder(HfConfig config, LinearMode mode, Map<String, Integer> ranks) {
    super(VERSION);
    this.config = Objects.requireNonNull(config, "config");
    this.mode = Objects.requireNonNull(mode, "mode");
    this.ranks = Collections.unmodifiableMap(new LinkedHashMap<>(ranks));
    if ((mode == LinearMode.LOW_RANK) == ranks.isEmpty()) {
      throw new IllegalArgumentException("ranks are needed for LOW_RANK and only for it");
    }
    boolean gpt2 = config.family() == HfConfig.Family.GPT2;
    Rope rope = gpt2 ? null : new Rope(config.headDim(), config.maxPositions(), config.ropeTheta());
    this.attention = new Attention.Spec(config.nHead(), config.nKvHead(), config.headDim(), rope);
    long c = config.hidden();
    long q = (long) config.nHead() * config.headDim();
    long kv = (long) config.nKvHead() * config.headDim();
    long inner = config.intermediate();
    String prefix = gpt2 ? "transformer." : "model.";
    embed =
        weight(gpt2 ? "transformer.wte.weight" : "model.embed_tokens.weight", config.vocabSize());
    positions = gpt2 ? weight("transformer.wpe.weight", config.maxPositions()) : null;
    List<Block> bs = new ArrayList<>();
    for (int i = 0; i < config.nLayer(); i++) {
      if (gpt2) {
        String p = prefix + "h." + i + ".";
        Norm ln1 = norm(p + "ln_1", c);
        LinearLayer qkv = lin(p + "attn.c_attn", q + 2 * kv, c, true);
        LinearLayer proj = lin(p + "attn.c_proj", c, q, true);
        Norm ln2 = norm(p + "ln_2", c);
        LinearLayer fc = lin(p + "mlp.c_fc", inner, c, true);
        LinearLayer down = lin(p + "mlp.c_proj", c, inner, true);
        bs.add(new Block(ln1, qkv, null, null, null, null, proj, ln2, null, fc, down));
      } else {
        String p = prefix + "layers." + i + ".";
        Norm n1 = norm(p + "input_layernorm", c);
        LinearLayer lq = lin(p + "self_attn.q_proj", q, c, config.qkvBias());
        LinearLayer lk = lin(p + "self_attn.k_proj", kv, c, config.qkvBias());
        LinearLayer lv = lin(p + "self_attn.v_proj", kv, c, config.qkvBias());
        LinearLayer lo = lin(p + "self_attn.o_proj", c, q, config.outBias());
        Norm n2 = norm(p + "post_attention_layernorm", c);
        LinearLayer gate = lin(p + "mlp.gate_proj", inner, c, config.mlpBias());
        LinearLayer up = lin(p + "mlp.up_proj", inner, c, config.mlpBias());
        LinearLayer down = lin(p + "mlp.down_proj", c, inner, config.mlpBias());
        bs.add(new Block(n1, null, p + "self_attn.qkv", lq, lk, lv, lo, n2, gate, up, down));
      }
    }
    blocks = List.copyOf(bs);
    finalNorm = norm(gpt2 ? "transformer.ln_f" : "model.norm", c);
    head = config.tiedEmbeddings() ? null : weight("lm_head.weight", config.vocabSize());
    setInitializer(new NormalInitializer(0.02f), Parameter.Type.WEIGHT);
    // after every dense parameter, as in our GPT
    for (LinearLayer l : linears.values()) {
      l.addCompressionParameters(this::addParameter);
    }
    if (mode == LinearMode.LOW_RANK && !ranks.keySet().equals(linears.keySet())) {
      throw new IllegalArgumentException(
          "ranks must name exactly the block linear layers " + linears.keySet());
    }
  }

  private LinearLayer lin(String name, long out, long in, boolean bias) {
    int rank = mode == LinearMode.LOW_RANK ? ranks.getOrDefault(name, 0) : 0;
    LinearLayer l = LinearLayer.create(this::addParameter, name, out, in, bias, mode, rank);
    linears.put(name, l);
    return l;
  }

  private Parameter weight(String name, long rows) {
    return registry().add(name, Parameter.Type.WEIGHT, new Shape(rows, config.hidden()));
  }

  private ParameterRegistry registry() {
    return this::addParameter;
  }

  private Norm norm(String name, long size) {
    Parameter w = registry().add(name + ".weight", Parameter.Type.GAMMA, new Shape(size));
    Parameter b =
        config.family() == HfConfig.Family.GPT2
            ? registry().add(name + ".bias", Parameter.Type.BETA, new Shape(size))
            : null;
    return new Norm(w, b);
  }

  @Override
  public HfConfig config() {
    return config;
  }

  @Override
  public LinearMode mode() {
    return mode;
  }

  @Override
  public Map<String, Integer> ranks() {
    return ranks;
  }

  /** The block linear layers by name, in parameter order. */
  public Map<String, LinearLayer> linears() {
    return Collections.unmodifiableMap(linears);
  }

  @Override
  public Map<String, long[]> linearShapes() {
    Map<String, long[]> out = new LinkedHashMap<>();
    linears.forEach((n, l) -> out.put(n, new long[] {l.out(), l.in()}));
    return out;
  }

  /** The block shapes of a config, without building a model. */
  public static Map<String, long[]> linearShapes(HfConfig config) {
    return new HfDecoder(config).linearShapes();
  }

  @Override
  protected NDArray block(int index, NDArray x, Pass pass) {
    Block blk = blocks.get(index);
    NDArray h = norm(x, blk.norm1(), pass.ps(), pass.training());
    NDArray qkv =
        blk.qkv() != null
            ? linear(blk.qkv(), h, pass)
            : linearFused(blk.qkvName(), List.of(blk.q(), blk.k(), blk.v()), h, pass);
    NDArray y =
        Attention.causal(
            attention, qkv, pass.batch(), pass.length(), 0f, pass.training(), pass.cache(), index);
    x = x.add(linear(blk.out(), y, pass));
    h = norm(x, blk.norm2(), pass.ps(), pass.training());
    NDArray m;
    if (blk.gate() != null) {
      m = Activations.silu(linear(blk.gate(), h, pass)).mul(linear(blk.up(), h, pass));
    } else {
      NDArray a = linear(blk.up(), h, pass);
      m = config.activation().equals("gelu") ? Activations.gelu(a) : Activations.geluTanh(a);
    }
    return x.add(linear(blk.down(), m, pass));
  }

  private NDArray norm(NDArray x, Norm n, ParameterStore ps, boolean training) {
    Device device = x.getDevice();
    NDArray w = ps.getValue(n.weight(), device, training);
    if (n.bias() != null) {
      return Norms.layerNorm(x, w, ps.getValue(n.bias(), device, training), config.normEps());
    }
    return Norms.rmsNorm(x, w, config.normEps());
  }

  @Override
  protected NDArray embed(NDArray tokens, int p0, Pass pass) {
    NDArray idx = embeddingIndex(tokens, p0, config.maxPositions(), "max positions");
    NDArray x = lookup(tokens, idx, embed, pass);
    if (positions != null) {
      x = x.add(positionEmbedding(tokens, p0, positions, pass));
    }
    return x;
  }

  @Override
  protected NDArray head(NDArray x, Pass pass) {
    x = norm(x, finalNorm, pass.ps(), pass.training());
    Parameter w = head == null ? embed : head;
    return Linear.linear(x, pass.ps().getValue(w, x.getDevice(), pass.training()), null)
        .singletonOrThrow();
  }

  @Override
  public String toString() {
    return "HfDecoder" + config + (mode == LinearMode.DENSE ? "" : "[" + mode + "]");
  }
}
