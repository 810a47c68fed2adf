package dev.distill.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
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
      Parameter u = registry.add(weight(name + ".u", new Shape(out, rank)));
      Parameter v = registry.add(weight(name + ".v", new Shape(rank, in)));
      Parameter b = withBias ? registry.add(bias(name + ".bias", out)) : null;
      return new LinearLayer(name, out, in, mode, rank, null, u, v, b);
    }
    Parameter w = registry.add(weight(name + ".weight", new Shape(out, in)));
    Parameter b = withBias ? registry.add(bias(name + ".bias", out)) : null;
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

  private static Parameter weight(String name, Shape shape) {
    return Parameter.builder().setName(name).setType(Parameter.Type.WEIGHT).optShape(shape).build();
  }

  private static Parameter bias(String name, long size) {
    return Parameter.builder()
        .setName(name)
        .setType(Parameter.Type.BIAS)
        .optShape(new Shape(size))
        .build();
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
