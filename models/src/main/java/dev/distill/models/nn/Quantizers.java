package dev.distill.models.nn;

import ai.djl.ndarray.NDArray;
import dev.distill.models.autograd.Scalars;

/**
 * The quantisers of the compressed students. Each returns the quantised values in the forward pass
 * and passes gradients straight through (Bengio et al. 2013, the straight-through estimator):
 * {@code q(x).stopGradient() + (x - x.stopGradient())} has exactly the value q(x) (x - x is 0 in
 * floating point, where {@code x + (q - x)} can be off by an ulp) and gradient 1 with respect to x.
 */
public final class Quantizers {
  /** Guards divisions by a scale of an all-zero tensor. */
  public static final float EPS = 1e-5f;

  private Quantizers() {}

  /**
   * BitNet b1.58 weight quantisation (arXiv:2402.17764, eq. 1-3): {@code gamma = mean |W|}, {@code
   * W_q = clamp(round(W / (gamma + eps)), -1, 1) * gamma}, straight-through.
   */
  public static NDArray ternary(NDArray w) {
    NDArray gamma = w.abs().mean().add(EPS);
    NDArray q = w.div(gamma).round().clip(-1, 1).mul(gamma);
    return ste(w, q);
  }

  /** The ternary codes {-1, 0, +1} of {@link #ternary} (no gradient), for export. */
  public static NDArray ternaryCodes(NDArray w) {
    NDArray gamma = w.abs().mean().add(EPS);
    return w.div(gamma).round().clip(-1, 1);
  }

  /** The scale gamma + eps that multiplies {@link #ternaryCodes}. */
  public static float ternaryScale(NDArray w) {
    return w.abs().mean().add(EPS).getFloat();
  }

  /**
   * 8-bit absmax activation quantisation per token (BitNet, arXiv:2310.11453 eq. 4, applied along
   * the last axis): {@code s = 127 / max(|x|)}, {@code x_q = clamp(round(x s), -128, 127) / s},
   * straight-through.
   */
  public static NDArray activations8(NDArray x) {
    NDArray s = Scalars.maximum(x.abs().max(new int[] {-1}, true), EPS).stopGradient();
    NDArray q = Scalars.div(Scalars.mul(x, 127f).div(s).round().clip(-128, 127).mul(s), 127f);
    return ste(x, q);
  }

  /**
   * Self-compression (Cséfalvay and Imber 2023, arXiv:2301.13142, eq. 1): per output channel,
   * {@code q(x) = 2^e round(min(max(2^-e x, -2^(b-1)), 2^(b-1) - 1))} with {@code b = max(b, 0)}.
   * The rounding is straight-through; the clamp bounds depend on b, so b and e get gradients.
   *
   * @param w (out, in)
   * @param bits (out, 1), the learnable bit depth
   * @param exp (out, 1), the learnable exponent
   */
  public static NDArray selfCompress(NDArray w, NDArray bits, NDArray exp) {
    NDArray b = Scalars.maximum(bits, 0f);
    NDArray half = pow2(b.sub(1f)); // 2^(b-1)
    NDArray scale = pow2(exp); // 2^e
    NDArray z = w.div(scale);
    NDArray clamped = z.maximum(half.neg()).minimum(half.sub(1f));
    NDArray rounded = ste(clamped, clamped.round());
    return rounded.mul(scale);
  }

  /** {@code 2^x} as {@code exp(x ln 2)}. */
  public static NDArray pow2(NDArray x) {
    return Scalars.mul(x, (float) Math.log(2)).exp();
  }

  /** Value of {@code q}, gradient of {@code x}. */
  private static NDArray ste(NDArray x, NDArray q) {
    return q.stopGradient().add(x.sub(x.stopGradient()));
  }
}
