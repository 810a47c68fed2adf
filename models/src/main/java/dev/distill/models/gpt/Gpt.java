package dev.distill.models.gpt;

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
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A GPT shaped like nanoGPT model.py: token + learned position embeddings, nLayer pre-LayerNorm
 * blocks (causal multi-head self-attention, MLP 4x with GELU), final LayerNorm, output head tied to
 * the token embedding (logits = x @ wte^T, no bias). Input NDList(tokens (B,T) int32 or int64, T <=
 * blockSize); output NDList(logits (B,T,V) float32).
 *
 * <p>Per layer: {@code x = x + proj(attn(ln1(x)))}, {@code x = x + mlpProj(gelu(fc(ln2(x))))}, with
 * {@code attn = softmax(q k^T / sqrt(headSize) + causalMask) v} per head.
 *
 * <p>All parameters are direct parameters of this one block (no child blocks), in a fixed order:
 * {@code wte, wpe}, then per layer {@code hN.ln1.gamma, hN.ln1.beta, hN.attn.weight, hN.attn.bias,
 * hN.attnProj.weight, hN.attnProj.bias, hN.ln2.gamma, hN.ln2.beta, hN.fc.weight, hN.fc.bias,
 * hN.mlpProj.weight, hN.mlpProj.bias}, then {@code lnF.gamma, lnF.beta}. Linear weights are stored
 * (out, in), as {@link Linear#linear} expects. Default initializers: weights N(0, 0.02), gamma 1,
 * beta and biases 0.
 *
 * <p>Memory: every op in the forward takes an activation (attached to the input's manager) as its
 * first operand, so nothing computed in a step is attached to the model's manager.
 */
public final class Gpt extends CausalLm {

  private static final byte VERSION = 1;
  private static final float LAYER_NORM_EPS = 1e-5f;

  private final GptConfig config;
  private final LinearMode mode;
  private final Map<String, Integer> ranks;
  private final Attention.Spec attention;
  private final Parameter wte;
  private final Parameter wpe;
  private final List<Layer> layers;
  private final Norm lnF;

  private record Norm(Parameter gamma, Parameter beta) {}

  /** One pre-LayerNorm block: attention (fused qkv, projection) and MLP (fc, GELU, projection). */
  private record Layer(
      Norm ln1,
      LinearLayer attn,
      LinearLayer attnProj,
      Norm ln2,
      LinearLayer fc,
      LinearLayer mlpProj) {
    List<LinearLayer> linears() {
      return List.of(attn, attnProj, fc, mlpProj);
    }
  }

  public Gpt(GptConfig config) {
    this(config, LinearMode.DENSE);
  }

  /**
   * A GPT whose block linear layers compute in {@code mode}. With {@link
   * LinearMode#SELF_COMPRESSING} the per-channel {@code .bits} and {@code .exp} parameters (out, 1)
   * of every block linear layer follow all the dense parameters, in layer order (attn, attnProj,
   * fc, mlpProj), bits before exp; they are initialised to {@link #INIT_BITS} and {@link
   * #INIT_EXP}.
   */
  public Gpt(GptConfig config, LinearMode mode) {
    this(config, mode, noRanks(mode));
  }

  private static Map<String, Integer> noRanks(LinearMode mode) {
    if (mode == LinearMode.LOW_RANK) {
      throw new IllegalArgumentException("LOW_RANK needs a rank per layer: use Gpt(config, ranks)");
    }
    return Map.of();
  }

  /**
   * A {@link LinearMode#LOW_RANK} GPT: block linear layer {@code name} (e.g. {@code h0.fc}) has
   * {@code ranks.get(name)} = r, and its weight (out, in) is replaced, at the same place in the
   * parameter order, by {@code name.u} (out, r) then {@code name.v} (r, in).
   *
   * @throws IllegalArgumentException unless {@code ranks} names exactly the block linear layers,
   *     each with 1 <= r <= min(out, in)
   */
  public Gpt(GptConfig config, Map<String, Integer> ranks) {
    this(config, LinearMode.LOW_RANK, checkRanks(config, ranks));
  }

  private Gpt(GptConfig config, LinearMode mode, Map<String, Integer> ranks) {
    super(VERSION);
    this.config = Objects.requireNonNull(config, "config");
    this.mode = Objects.requireNonNull(mode, "mode");
    this.ranks = ranks;
    this.attention = new Attention.Spec(config.nHead(), config.nHead(), config.headSize(), null);
    long c = config.nEmbd();
    wte = weight("wte", new Shape(config.vocabSize(), c));
    wpe = weight("wpe", new Shape(config.blockSize(), c));
    List<Layer> ls = new ArrayList<>(config.nLayer());
    for (int i = 0; i < config.nLayer(); i++) {
      String p = "h" + i + ".";
      ls.add(
          new Layer(
              norm(p + "ln1", c),
              lin(p + "attn", 3 * c, c),
              lin(p + "attnProj", c, c),
              norm(p + "ln2", c),
              lin(p + "fc", 4 * c, c),
              lin(p + "mlpProj", c, 4 * c)));
    }
    layers = List.copyOf(ls);
    lnF = norm("lnF", c);
    setInitializer(new NormalInitializer(0.02f), Parameter.Type.WEIGHT);
    // after every dense parameter, so a dense model's parameter order is unchanged
    for (Layer layer : layers) {
      for (LinearLayer lin : layer.linears()) {
        lin.addCompressionParameters(this::addParameter);
      }
    }
  }

  /** Block linear layer names in parameter order, each with its (out, in). */
  public static Map<String, long[]> linearShapes(GptConfig config) {
    long c = config.nEmbd();
    Map<String, long[]> out = new LinkedHashMap<>();
    for (int i = 0; i < config.nLayer(); i++) {
      String p = "h" + i + ".";
      out.put(p + "attn", new long[] {3 * c, c});
      out.put(p + "attnProj", new long[] {c, c});
      out.put(p + "fc", new long[] {4 * c, c});
      out.put(p + "mlpProj", new long[] {c, 4 * c});
    }
    return out;
  }

  @Override
  public Map<String, long[]> linearShapes() {
    return linearShapes(config);
  }

  private static Map<String, Integer> checkRanks(GptConfig config, Map<String, Integer> ranks) {
    Objects.requireNonNull(ranks, "ranks");
    Map<String, long[]> shapes = linearShapes(Objects.requireNonNull(config, "config"));
    if (!shapes.keySet().equals(ranks.keySet())) {
      throw new IllegalArgumentException(
          "ranks must name exactly the block linear layers "
              + shapes.keySet()
              + ", got "
              + ranks.keySet());
    }
    Map<String, Integer> out = new LinkedHashMap<>();
    for (Map.Entry<String, long[]> e : shapes.entrySet()) {
      Integer r = ranks.get(e.getKey());
      long max = Math.min(e.getValue()[0], e.getValue()[1]);
      if (r == null || r < 1 || r > max) {
        throw new IllegalArgumentException(
            "rank of " + e.getKey() + " must be in [1, " + max + "], got " + r);
      }
      out.put(e.getKey(), r);
    }
    return java.util.Collections.unmodifiableMap(out);
  }

  /** Rank per block linear layer (in parameter order) of a low-rank model; empty otherwise. */
  @Override
  public Map<String, Integer> ranks() {
    return ranks;
  }

  /** Initial bit depth of a self-compressing channel. */
  public static final float INIT_BITS = LinearLayer.INIT_BITS;

  /** Initial exponent of a self-compressing channel ({@link LinearLayer#INIT_EXP}). */
  public static final float INIT_EXP = LinearLayer.INIT_EXP;

  @Override
  public LinearMode mode() {
    return mode;
  }

  private LinearLayer lin(String name, long out, long in) {
    int rank = mode == LinearMode.LOW_RANK ? ranks.get(name) : 0;
    return LinearLayer.create(this::addParameter, name, out, in, true, mode, rank);
  }

  @Override
  public GptConfig config() {
    return config;
  }

  private Parameter weight(String name, Shape shape) {
    return registry().add(name, Parameter.Type.WEIGHT, shape);
  }

  private ParameterRegistry registry() {
    return this::addParameter;
  }

  private Norm norm(String name, long size) {
    Parameter gamma = registry().add(name + ".gamma", Parameter.Type.GAMMA, new Shape(size));
    Parameter beta = registry().add(name + ".beta", Parameter.Type.BETA, new Shape(size));
    return new Norm(gamma, beta);
  }

  /**
   * One pre-LayerNorm block on the flat stream {@code x} (B * T, C): {@code x +
   * proj(attn(ln1(x)))}, then {@code x + mlpProj(gelu(fc(ln2(x))))}.
   */
  @Override
  protected NDArray block(int index, NDArray x, Pass pass) {
    Layer layer = layers.get(index);
    boolean training = pass.training();
    float dropout = config.dropout();
    NDArray h = layerNorm(x, layer.ln1(), pass.ps(), training);
    NDArray qkv = linear(layer.attn(), h, pass);
    NDArray y =
        Attention.causal(
            attention, qkv, pass.batch(), pass.length(), dropout, training, pass.cache(), index);
    y = linear(layer.attnProj(), y, pass);
    x = x.add(dropout(y, dropout, training));
    h = layerNorm(x, layer.ln2(), pass.ps(), training);
    h = Activations.gelu(linear(layer.fc(), h, pass));
    h = linear(layer.mlpProj(), h, pass);
    return x.add(dropout(h, dropout, training));
  }

  /** Final LayerNorm and the tied head: logits = x @ wte^T, no bias. */
  @Override
  protected NDArray head(NDArray x, Pass pass) {
    x = layerNorm(x, lnF, pass.ps(), pass.training());
    NDArray wteArr = pass.ps().getValue(wte, x.getDevice(), pass.training());
    return Linear.linear(x, wteArr, null).singletonOrThrow();
  }

  /**
   * Token plus position embeddings (B, T, C) of {@code tokens} (B, T) at positions {@code p0 .. p0
   * + T - 1}, after checking the shape, type and that the positions fit in the block.
   */
  @Override
  protected NDArray embed(NDArray tokens, int p0, Pass pass) {
    NDArray idx = embeddingIndex(tokens, p0, config.blockSize(), "blockSize");
    NDArray tok = lookup(tokens, idx, wte, pass);
    NDArray pos = positionEmbedding(tokens, p0, wpe, pass);
    return dropout(tok.add(pos), config.dropout(), pass.training());
  }

  private NDArray layerNorm(NDArray x, Norm norm, ParameterStore ps, boolean training) {
    Device device = x.getDevice();
    return Norms.layerNorm(
        x,
        ps.getValue(norm.gamma(), device, training),
        ps.getValue(norm.beta(), device, training),
        LAYER_NORM_EPS);
  }

  @Override
  public String toString() {
    return "Gpt" + config + (mode == LinearMode.DENSE ? "" : "[" + mode + "]");
  }
}
