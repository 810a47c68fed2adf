package dev.distill.models.nn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import dev.distill.models.autograd.Scalars;

/**
 * How a {@link LinearMode} computes a {@link LinearLayer}: one strategy per mode, instead of a
 * switch in every model's forward.
 */
abstract class LinearKernel {

  private static final LinearKernel DENSE = new Dense(false);
  private static final LinearKernel ACT8 = new Dense(true);
  private static final LinearKernel TERNARY = new QuantisedWeight(true);
  private static final LinearKernel SELF_COMPRESSING = new QuantisedWeight(false);
  private static final LinearKernel LOW_RANK = new LowRank();

  static LinearKernel of(LinearMode mode) {
    return switch (mode) {
      case DENSE -> DENSE;
      case ACT8 -> ACT8;
      case TERNARY -> TERNARY;
      case SELF_COMPRESSING -> SELF_COMPRESSING;
      case LOW_RANK -> LOW_RANK;
    };
  }

  /** Whether this kernel quantises activations to 8 bits (absmax) before the product. */
  private final boolean act8;

  LinearKernel(boolean act8) {
    this.act8 = act8;
  }

  /** {@code x} as this kernel multiplies it: quantised to 8 bits where the mode says so. */
  final NDArray input(NDArray x) {
    return act8 ? Quantizers.activations8(x) : x;
  }

  abstract NDArray apply(
      LinearLayer layer, NDArray x, ParameterStore ps, boolean training, DecodeCache cache);

  static NDArray value(ParameterStore ps, ai.djl.nn.Parameter p, Device device, boolean training) {
    return p == null ? null : ps.getValue(p, device, training);
  }

  /** {@code in W^T + b} with {@code layer}'s bias {@code b}, if it has one. */
  static NDArray withBias(
      LinearLayer layer, NDArray in, NDArray w, ParameterStore ps, boolean training) {
    return Linear.linear(in, w, value(ps, layer.bias(), in.getDevice(), training))
        .singletonOrThrow();
  }

  /**
   * {@code p} times a scalar 1 created on the activation's manager: the same values and gradient,
   * but the quantiser's intermediates derived from it are attached to the step's manager instead of
   * the model's (every op of a forward takes an activation as its first operand, so nothing
   * computed in a step is attached to the model's manager).
   */
  static NDArray onStep(NDArray activation, NDArray p) {
    return Scalars.of(activation, 1f).mul(p);
  }

  /** Plain float32 weights; with {@code act8}, 8-bit absmax activations first ({@code ACT8}). */
  private static final class Dense extends LinearKernel {
    Dense(boolean act8) {
      super(act8);
    }

    @Override
    NDArray apply(
        LinearLayer layer, NDArray x, ParameterStore ps, boolean training, DecodeCache cache) {
      NDArray in = input(x);
      return withBias(
          layer, in, ps.getValue(layer.weight(), x.getDevice(), training), ps, training);
    }
  }

  /**
   * Weights quantised in the forward pass: BitNet b1.58 ternary weights with 8-bit activations, or
   * self-compressing per-channel bit depths (see {@link LinearMode}). A cached decode quantises
   * each weight once per cache.
   */
  private static final class QuantisedWeight extends LinearKernel {
    private final boolean ternary;

    QuantisedWeight(boolean ternary) {
      super(ternary); // BitNet b1.58 pairs ternary weights with 8-bit activations
      this.ternary = ternary;
    }

    @Override
    NDArray apply(
        LinearLayer layer, NDArray x, ParameterStore ps, boolean training, DecodeCache cache) {
      Device device = x.getDevice();
      NDArray in = input(x);
      NDArray w = cache == null ? null : cache.weight(layer.name());
      if (w == null) {
        NDArray raw = ps.getValue(layer.weight(), device, training);
        w =
            ternary
                ? Quantizers.ternary(onStep(in, raw))
                : Quantizers.selfCompress(
                    onStep(in, raw),
                    onStep(in, ps.getValue(layer.bits(), device, training)),
                    onStep(in, ps.getValue(layer.exp(), device, training)));
        if (cache != null) {
          cache.putWeight(layer.name(), w);
        }
      }
      return withBias(layer, in, w, ps, training);
    }
  }

  /** {@code x W^T = (x V^T) U^T}: r (in + out) multiply-adds per token instead of in * out. */
  private static final class LowRank extends LinearKernel {
    LowRank() {
      super(false);
    }

    @Override
    NDArray apply(
        LinearLayer layer, NDArray x, ParameterStore ps, boolean training, DecodeCache cache) {
      Device device = x.getDevice();
      NDArray h =
          Linear.linear(x, ps.getValue(layer.v(), device, training), null).singletonOrThrow();
      return withBias(layer, h, ps.getValue(layer.u(), device, training), ps, training);
    }
  }
}
