package dev.distill.models.nn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
import java.util.List;
import java.util.Objects;

/**
 * One linear layer of a transformer block, {@code y = x W^T + b} with W (out, in) and an optional
 * bias b (out), computed as its {@link LinearMode} says ({@link LinearKernel}: dense, ternary,
 * 8-bit activations, self-compressing, low-rank). Every block linear layer of every model family
 * (our GPT, GPT-2, the Llama family) is one of these, so a compression mode applies to any of them.
 *
 * <p>Parameters, registered on the owning block under {@code name}: {@code name.weight} (out, in),
 * or for {@link LinearMode#LOW_RANK} {@code name.u} (out, r) then {@code name.v} (r, in) at the
 * weight's place; {@code name.bias} (out) when the layer has a bias; for {@link
 * LinearMode#SELF_COMPRESSING} {@code name.bits} and {@code name.exp} (out, 1), registered by
 * {@link #addCompressionParameters} after every dense parameter of the model so that a dense
 * model's parameter order is unchanged.
 */
public final class LinearLayer {

  /** Initial bit depth of a self-compressing channel. */
  public static final float INIT_BITS = 8f;

  /**
   * Initial exponent of a self-compressing channel: 2^-8 steps with 8 bits cover +-0.5, about 25
   * standard deviations of N(0, 0.02) initial weights.
   */
  public static final float INIT_EXP = -8f;

  private final String name;
  private final long out;
  private final long in;
  private final LinearMode mode;
  private final int rank;
  private final Parameter weight;
  private final Parameter u;
  private final Parameter v;
  private final Parameter bias;
  private Parameter bits;
  private Parameter exp;

  private LinearLayer(
      String name,
      long out,
      long in,
      LinearMode mode,
      int rank,
      Parameter weight,
      Parameter u,
      Parameter v,
      Parameter bias) {
    this.name = name;
    this.out = out;
    this.in = in;
    this.mode = mode;
    this.rank = rank;
    this.weight = weight;
    this.u = u;
    this.v = v;
    this.bias = bias;
  }

  /**
   * Registers the layer's weight (or low-rank factors) and bias on {@code registry}.
   *
   * @param rank the rank r of a {@link LinearMode#LOW_RANK} layer, 1 <= r <= min(out, in); ignored
   *     in the other modes
   */
  public static LinearLayer create(
      ParameterRegistry registry,
      String name,
      long out,
      long in,
      boolean withBias,
      LinearMode mode,
      int rank) {
    Objects.requireNonNull(registry, "registry");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(mode, "mode");
    if (mode == LinearMode.LOW_RANK) {
      if (rank < 1 || rank > Math.min(out, in)) {
        throw new IllegalArgumentException(
            "rank of " + name + " must be in [1, " + Math.min(out, in) + "], got " + rank);
      }
      Parameter u = registry.add(name + ".u", Parameter.Type.WEIGHT, new Shape(out, rank));
      Parameter v = registry.add(name + ".v", Parameter.Type.WEIGHT, new Shape(rank, in));
      Parameter b =
          withBias ? registry.add(name + ".bias", Parameter.Type.BIAS, new Shape(out)) : null;
      return new LinearLayer(name, out, in, mode, rank, null, u, v, b);
    }
    Parameter w = registry.add(name + ".weight", Parameter.Type.WEIGHT, new Shape(out, in));
    Parameter b =
        withBias ? registry.add(name + ".bias", Parameter.Type.BIAS, new Shape(out)) : null;
    return new LinearLayer(name, out, in, mode, 0, w, null, null, b);
  }

  /**
   * Registers {@code name.bits} and {@code name.exp} (out, 1), initialised to {@link #INIT_BITS}
   * and {@link #INIT_EXP}, when the mode is {@link LinearMode#SELF_COMPRESSING}; nothing otherwise.
   */
  public void addCompressionParameters(ParameterRegistry registry) {
    if (mode != LinearMode.SELF_COMPRESSING) {
      return;
    }
    bits = registry.add(constant(name + ".bits", out, INIT_BITS));
    exp = registry.add(constant(name + ".exp", out, INIT_EXP));
  }

  /**
   * {@code x W^T + b} of {@code x} (..., in) as the mode computes it. With a {@code cache}
   * (incremental inference), the quantised weight of a {@link LinearMode#TERNARY} or {@link
   * LinearMode#SELF_COMPRESSING} layer is computed on the cache's first call and reused until the
   * cache is closed: the parameters do not change during a generation.
   */
  public NDArray forward(NDArray x, ParameterStore ps, boolean training, DecodeCache cache) {
    return LinearKernel.of(mode).apply(this, x, ps, training, cache);
  }

  /**
   * The outputs of {@code layers} (the same input {@code x} (N, in), the same mode) side by side,
   * (N, sum of out): {@code x [W_1; W_2; ...]^T + [b_1; b_2; ...]}, e.g. a Llama-family layer's q,
   * k and v projections. {@link LinearMode#DENSE} and {@link LinearMode#ACT8} layers that all have
   * or all lack a bias compute it as one product with their weights concatenated (per forward, so
   * the gradients reach each weight; with a {@code cache}, once per generation, kept as {@code
   * fusedName}): one addmm forward and one mm per gradient backward instead of one per layer, for
   * the same result (issue 13). Other modes concatenate the layers' own outputs.
   */
  public static NDArray forwardFused(
      String fusedName,
      List<LinearLayer> layers,
      NDArray x,
      ParameterStore ps,
      boolean training,
      DecodeCache cache) {
    LinearLayer first = layers.get(0);
    boolean fusable = first.mode == LinearMode.DENSE || first.mode == LinearMode.ACT8;
    for (LinearLayer l : layers) {
      fusable &= l.mode == first.mode && (l.bias == null) == (first.bias == null);
    }
    if (!fusable) {
      NDList outs = new NDList(layers.size());
      for (LinearLayer l : layers) {
        outs.add(l.forward(x, ps, training, cache));
      }
      return NDArrays.concat(outs, -1);
    }
    NDArray w = cache == null ? null : cache.weight(fusedName);
    NDArray b = cache == null ? null : cache.weight(fusedName + ".bias");
    if (w == null) {
      Device device = x.getDevice();
      NDList ws = new NDList(layers.size());
      NDList bs = new NDList(layers.size());
      for (LinearLayer l : layers) {
        ws.add(ps.getValue(l.weight, device, training));
        if (l.bias != null) {
          bs.add(ps.getValue(l.bias, device, training));
        }
      }
      // concat's result lands on the first parameter's manager: move it to the step's
      w = NDArrays.concat(ws, 0);
      w.attach(x.getManager());
      if (!bs.isEmpty()) {
        b = NDArrays.concat(bs, 0);
        b.attach(x.getManager());
      }
      if (cache != null) {
        cache.putWeight(fusedName, w);
        if (b != null) {
          cache.putWeight(fusedName + ".bias", b);
        }
      }
    }
    NDArray in = first.mode == LinearMode.ACT8 ? Quantizers.activations8(x) : x;
    return Linear.linear(in, w, b).singletonOrThrow();
  }

  public String name() {
    return name;
  }

  public long out() {
    return out;
  }

  public long in() {
    return in;
  }

  public LinearMode mode() {
    return mode;
  }

  /** The rank of a low-rank layer; 0 otherwise. */
  public int rank() {
    return rank;
  }

  /** The weight (out, in); null in {@link LinearMode#LOW_RANK}. */
  public Parameter weight() {
    return weight;
  }

  /** The low-rank factor U (out, r); null in the other modes. */
  public Parameter u() {
    return u;
  }

  /** The low-rank factor V (r, in); null in the other modes. */
  public Parameter v() {
    return v;
  }

  /** The bias (out), or null for a layer without one. */
  public Parameter bias() {
    return bias;
  }

  Parameter bits() {
    return bits;
  }

  Parameter exp() {
    return exp;
  }

  private static Parameter constant(String name, long out, float value) {
    return Parameter.builder()
        .setName(name)
        .setType(Parameter.Type.OTHER)
        .optShape(new Shape(out, 1))
        .optInitializer(new ConstantInitializer(value))
        .build();
  }
}
