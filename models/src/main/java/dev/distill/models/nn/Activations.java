package dev.distill.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import dev.distill.models.autograd.Scalars;

/** The MLP activations of the model families. */
public final class Activations {

  private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2.0 / Math.PI);

  private Activations() {}

  /** Exact GELU, {@code x * Phi(x)} (Hendrycks and Gimpel 2016): our GPT's and HF's "gelu". */
  public static NDArray gelu(NDArray x) {
    return x.getNDArrayInternal().gelu();
  }

  /**
   * GELU's tanh approximation, GPT-2's {@code gelu_new}: {@code 0.5 x (1 + tanh(sqrt(2/pi) (x +
   * 0.044715 x^3)))}.
   */
  public static NDArray geluTanh(NDArray x) {
    NDArray inner = Scalars.mul(Scalars.mul(x.mul(x).mul(x), 0.044715f).add(x), SQRT_2_OVER_PI);
    return Scalars.mul(x, 0.5f).mul(inner.tanh().add(1f));
  }

  /** SiLU (swish), {@code x * sigmoid(x)}: the gate of the Llama family's SwiGLU MLP. */
  public static NDArray silu(NDArray x) {
    return x.mul(Activation.sigmoid(x));
  }
}
