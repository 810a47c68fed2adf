package dev.distill.models.gpt;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.internal.NDArrayEx;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import dev.distill.models.autograd.Scalars;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.BiConsumer;

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
public final class Gpt extends AbstractBlock {

  private static final byte VERSION = 1;
  private static final float LAYER_NORM_EPS = 1e-5f;

  private final GptConfig config;
  private final LinearMode mode;
  private final Map<String, Integer> ranks;
  private volatile BiConsumer<String, NDArray> inputObserver;
  private final Parameter wte;
  private final Parameter wpe;
  private final List<Layer> layers;
  private final Norm lnF;

  private record Norm(Parameter gamma, Parameter beta) {}

  /**
   * One linear layer: weight (out, in), bias (out); bits and exp (out, 1) only when
   * self-compressing; when low-rank, u (out, r) and v (r, in) in place of weight (null).
   */
  private static final class Lin {
    final String name;
    final Parameter weight;
    final Parameter u;
    final Parameter v;
    final Parameter bias;
    Parameter bits;
    Parameter exp;

    Lin(String name, Parameter weight, Parameter u, Parameter v, Parameter bias) {
      this.name = name;
      this.weight = weight;
      this.u = u;
      this.v = v;
      this.bias = bias;
    }
  }

  private record Layer(Norm ln1, Lin attn, Lin attnProj, Norm ln2, Lin fc, Lin mlpProj) {}

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
    if (mode == LinearMode.SELF_COMPRESSING) {
      // after every dense parameter, so a dense model's parameter order is unchanged
      for (Layer layer : layers) {
        for (Lin lin : List.of(layer.attn(), layer.attnProj(), layer.fc(), layer.mlpProj())) {
          long out = lin.weight.getShape().get(0);
          lin.bits = constant(lin.name + ".bits", out, INIT_BITS);
          lin.exp = constant(lin.name + ".exp", out, INIT_EXP);
        }
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
  public Map<String, Integer> ranks() {
    return ranks;
  }

  /** Initial bit depth of a self-compressing channel. */
  public static final float INIT_BITS = 8f;

  /**
   * Initial exponent of a self-compressing channel: 2^-8 steps with 8 bits cover +-0.5, about 25
   * standard deviations of the N(0, 0.02) initial weights.
   */
  public static final float INIT_EXP = -8f;

  public LinearMode mode() {
    return mode;
  }

  /**
   * Calls {@code observer} with (layer name, input (B, T, in)) of every block linear layer in each
   * forward, e.g. to collect calibration activations for Wanda pruning; null stops observing.
   */
  public void observeLinearInputs(BiConsumer<String, NDArray> observer) {
    this.inputObserver = observer;
  }

  private Lin lin(String name, long out, long in) {
    if (mode == LinearMode.LOW_RANK) {
      int r = ranks.get(name);
      Parameter u = weight(name + ".u", new Shape(out, r));
      Parameter v = weight(name + ".v", new Shape(r, in));
      return new Lin(name, null, u, v, bias(name + ".bias", out));
    }
    return new Lin(
        name, weight(name + ".weight", new Shape(out, in)), null, null, bias(name + ".bias", out));
  }

  private Parameter constant(String name, long out, float value) {
    return addParameter(
        Parameter.builder()
            .setName(name)
            .setType(Parameter.Type.OTHER)
            .optShape(new Shape(out, 1))
            .optInitializer(new ConstantInitializer(value))
            .build());
  }

  public GptConfig config() {
    return config;
  }

  private Parameter weight(String name, Shape shape) {
    return addParameter(
        Parameter.builder().setName(name).setType(Parameter.Type.WEIGHT).optShape(shape).build());
  }

  private Parameter bias(String name, long size) {
    return addParameter(
        Parameter.builder()
            .setName(name)
            .setType(Parameter.Type.BIAS)
            .optShape(new Shape(size))
            .build());
  }

  private Norm norm(String name, long size) {
    Parameter gamma =
        addParameter(
            Parameter.builder()
                .setName(name + ".gamma")
                .setType(Parameter.Type.GAMMA)
                .optShape(new Shape(size))
                .build());
    Parameter beta =
        addParameter(
            Parameter.builder()
                .setName(name + ".beta")
                .setType(Parameter.Type.BETA)
                .optShape(new Shape(size))
                .build());
    return new Norm(gamma, beta);
  }

  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    NDArray tokens = inputs.singletonOrThrow();
    NDArray x = dropout(embed(ps, tokens, 0, training), training);
    long b = tokens.getShape().get(0);
    long t = tokens.getShape().get(1);
    Device device = tokens.getDevice();
    NDManager manager = tokens.getManager();
    long c = config.nEmbd();
    int nh = config.nHead();
    long hs = config.headSize();
    NDArray wteArr = ps.getValue(wte, device, training);

    NDArray mask = causalMask(manager, (int) t);
    float scale = (float) (1.0 / Math.sqrt(hs));
    for (Layer layer : layers) {
      NDArray h = layerNorm(x, layer.ln1(), ps, device, training);
      NDArray qkv = linear(h, layer.attn(), ps, device, training, null);
      NDList split = qkv.split(3, 2);
      NDArray q = heads(split.get(0), b, t, nh, hs);
      NDArray k = heads(split.get(1), b, t, nh, hs);
      NDArray v = heads(split.get(2), b, t, nh, hs);
      NDArray att = Scalars.muli(q.matMul(k.transpose(0, 1, 3, 2)), scale).add(mask).softmax(-1);
      att = dropout(att, training);
      NDArray y = att.matMul(v).transpose(0, 2, 1, 3).reshape(b, t, c);
      y = linear(y, layer.attnProj(), ps, device, training, null);
      x = x.add(dropout(y, training));

      x = x.add(dropout(mlp(x, layer, ps, device, training, null), training));
    }
    x = layerNorm(x, lnF, ps, device, training);
    // Tied head: logits = x @ wte^T, no bias.
    NDArray logits = Linear.linear(x, wteArr, null).singletonOrThrow();
    return new NDList(logits);
  }

  /** {@code mlpProj(gelu(fc(ln2(x))))}; {@code cache} as in {@link #linear}. */
  private NDArray mlp(
      NDArray x, Layer layer, ParameterStore ps, Device device, boolean training, KvCache cache) {
    NDArray h = layerNorm(x, layer.ln2(), ps, device, training);
    h = linear(h, layer.fc(), ps, device, training, cache);
    h = h.getNDArrayInternal().gelu();
    return linear(h, layer.mlpProj(), ps, device, training, cache);
  }

  /**
   * Token plus position embeddings (B, T, C) of {@code tokens} (B, T) at positions {@code p0 .. p0
   * + T - 1}, after checking the shape, type and that the positions fit in the block.
   */
  private NDArray embed(ParameterStore ps, NDArray tokens, int p0, boolean training) {
    if (tokens.getShape().dimension() != 2) {
      throw new IllegalArgumentException("tokens must be (B, T), got " + tokens.getShape());
    }
    long t = tokens.getShape().get(1);
    if (t < 1 || p0 + t > config.blockSize()) {
      throw new IllegalArgumentException(
          "positions ["
              + p0
              + ", "
              + (p0 + t)
              + ") outside [0, blockSize="
              + config.blockSize()
              + "]");
    }
    DataType type = tokens.getDataType();
    if (type != DataType.INT64 && type != DataType.INT32) {
      throw new IllegalArgumentException("tokens must be int32 or int64, got " + type);
    }
    Device device = tokens.getDevice();
    NDArrayEx ex = tokens.getNDArrayInternal();
    NDArray idx = type == DataType.INT64 ? tokens : tokens.toType(DataType.INT64, false);
    NDArray tok =
        ex.embedding(idx, ps.getValue(wte, device, training), SparseFormat.DENSE)
            .singletonOrThrow();
    // Positions go through the same native embedding op: its backward is a fast scatter, and
    // slicing wpe would make the parameter the first operand (result on the model's manager).
    NDArray positions = tokens.getManager().arange(p0, (int) (p0 + t), 1, DataType.INT64);
    NDArray pos =
        ex.embedding(positions, ps.getValue(wpe, device, training), SparseFormat.DENSE)
            .singletonOrThrow();
    return tok.add(pos);
  }

  /**
   * Incremental inference forward (no dropout; the caller switches gradient recording off): runs
   * {@code tokens} (B, t) at positions {@code cache.length() .. cache.length() + t - 1}, each
   * attending to the cached keys and values of every layer and to the new tokens up to itself;
   * appends the new keys and values to {@code cache} and returns the logits (B, t, V) of the new
   * positions only, attached to the tokens' manager. The same block structure and the same {@link
   * #linear} path as {@link #forwardInternal}, so every {@link LinearMode} computes as in a full
   * forward (the activation quantisers work per token, so a token's quantised input does not depend
   * on the other tokens of the call).
   *
   * <p>Cost per decoded token: the linear layers on one position instead of the whole context, and
   * attention over the cached length; the cache grows by concatenation (a copy of {@code 2 nLayer B
   * C length} floats per step, small next to the weights at blockSize 64).
   */
  NDArray forwardCached(ParameterStore ps, NDArray tokens, KvCache cache) {
    int p0 = cache.length();
    NDArray x = embed(ps, tokens, p0, false);
    long b = tokens.getShape().get(0);
    int t = Math.toIntExact(tokens.getShape().get(1));
    Device device = tokens.getDevice();
    NDManager manager = tokens.getManager();
    long c = config.nEmbd();
    int nh = config.nHead();
    long hs = config.headSize();
    NDArray wteArr = ps.getValue(wte, device, false);

    // One new position sees every cached key and itself: no mask needed.
    NDArray mask = t == 1 ? null : causalMask(manager, t, p0);
    float scale = (float) (1.0 / Math.sqrt(hs));
    for (int l = 0; l < layers.size(); l++) {
      Layer layer = layers.get(l);
      NDArray h = layerNorm(x, layer.ln1(), ps, device, false);
      NDArray qkv = linear(h, layer.attn(), ps, device, false, cache);
      NDList split = qkv.split(3, 2);
      NDArray q = heads(split.get(0), b, t, nh, hs);
      NDArray k = heads(split.get(1), b, t, nh, hs);
      NDArray v = heads(split.get(2), b, t, nh, hs);
      if (p0 > 0) {
        // concat's result lands on the cached array's manager: move it to the step's, so the
        // views derived from it below are freed with the step; put() moves it to the cache.
        k = cache.keys(l).concat(k, 2);
        k.attach(manager);
        v = cache.values(l).concat(v, 2);
        v.attach(manager);
      }
      NDArray att = Scalars.muli(q.matMul(k.transpose(0, 1, 3, 2)), scale);
      if (mask != null) {
        att = att.add(mask);
      }
      att = att.softmax(-1);
      NDArray y = att.matMul(v).transpose(0, 2, 1, 3).reshape(b, t, c);
      cache.put(l, k, v);
      y = linear(y, layer.attnProj(), ps, device, false, cache);
      x = x.add(y);
      x = x.add(mlp(x, layer, ps, device, false, cache));
    }
    cache.advance(t);
    x = layerNorm(x, lnF, ps, device, false);
    return Linear.linear(x, wteArr, null).singletonOrThrow();
  }

  /**
   * {@code x W^T + b} as {@link #mode} computes it. With a {@code cache} (incremental inference)
   * the quantised weight of a {@link LinearMode#TERNARY} or {@link LinearMode#SELF_COMPRESSING}
   * layer is computed on the cache's first call and reused until the cache is closed: the
   * parameters do not change during a generation, and re-quantising every matrix for one token
   * would cost more than the token's matrix products.
   */
  private NDArray linear(
      NDArray x, Lin lin, ParameterStore ps, Device device, boolean training, KvCache cache) {
    BiConsumer<String, NDArray> observer = inputObserver;
    if (observer != null) {
      observer.accept(lin.name, x);
    }
    NDArray b = ps.getValue(lin.bias, device, training);
    if (mode == LinearMode.LOW_RANK) {
      // x W^T = (x V^T) U^T: r (in + out) multiply-adds per token instead of in * out
      NDArray h = Linear.linear(x, ps.getValue(lin.v, device, training), null).singletonOrThrow();
      return Linear.linear(h, ps.getValue(lin.u, device, training), b).singletonOrThrow();
    }
    if (mode == LinearMode.TERNARY || mode == LinearMode.ACT8) {
      x = Quantizers.activations8(x);
    }
    boolean quantisedWeight = mode == LinearMode.TERNARY || mode == LinearMode.SELF_COMPRESSING;
    NDArray w = cache != null && quantisedWeight ? cache.weight(lin.name) : null;
    if (w == null) {
      w = ps.getValue(lin.weight, device, training);
      switch (mode) {
        case DENSE, ACT8:
          break;
        case TERNARY:
          w = Quantizers.ternary(onStep(x, w));
          break;
        case SELF_COMPRESSING:
          w =
              Quantizers.selfCompress(
                  onStep(x, w),
                  onStep(x, ps.getValue(lin.bits, device, training)),
                  onStep(x, ps.getValue(lin.exp, device, training)));
          break;
        default:
          throw new IllegalStateException("unknown mode " + mode);
      }
      if (cache != null && quantisedWeight) {
        cache.putWeight(lin.name, w);
      }
    }
    return Linear.linear(x, w, b).singletonOrThrow();
  }

  /**
   * {@code p} times a scalar 1 created on the activation's manager: the same values and gradient,
   * but the quantiser's intermediates derived from it are attached to the step's manager instead of
   * the model's (see the class comment on memory).
   */
  private static NDArray onStep(NDArray activation, NDArray p) {
    return Scalars.of(activation, 1f).mul(p);
  }

  /** (B, T, C) -> (B, nh, T, hs). */
  private static NDArray heads(NDArray a, long b, long t, int nh, long hs) {
    return a.reshape(b, t, nh, hs).transpose(0, 2, 1, 3);
  }

  /** Additive mask (T, T): 0 on and below the diagonal, -inf above (a query sees no later key). */
  private static NDArray causalMask(NDManager manager, int t) {
    return causalMask(manager, t, 0);
  }

  /**
   * Additive mask (T, offset + T) for T queries at positions offset.. over the keys at positions
   * 0..offset+T-1: query i sees key j iff j <= offset + i.
   */
  private static NDArray causalMask(NDManager manager, int t, int offset) {
    int keys = offset + t;
    float[] m = new float[t * keys];
    for (int i = 0; i < t; i++) {
      for (int j = offset + i + 1; j < keys; j++) {
        m[i * keys + j] = Float.NEGATIVE_INFINITY;
      }
    }
    return manager.create(m, new Shape(t, keys));
  }

  private NDArray layerNorm(
      NDArray x, Norm norm, ParameterStore ps, Device device, boolean training) {
    return x.getNDArrayInternal()
        .layerNorm(
            x,
            new Shape(config.nEmbd()),
            ps.getValue(norm.gamma(), device, training),
            ps.getValue(norm.beta(), device, training),
            LAYER_NORM_EPS)
        .singletonOrThrow();
  }

  private NDArray dropout(NDArray x, boolean training) {
    if (!training || config.dropout() == 0f) {
      return x;
    }
    return x.getNDArrayInternal().dropout(x, config.dropout(), true).singletonOrThrow();
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    Shape in = inputShapes[0];
    return new Shape[] {new Shape(in.get(0), in.get(1), config.vocabSize())};
  }

  @Override
  public String toString() {
    return "Gpt" + config + (mode == LinearMode.DENSE ? "" : "[" + mode + "]");
  }
}
