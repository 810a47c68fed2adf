package dev.distill.models.nn;

/**
 * How the linear layers inside the transformer blocks (qkv, attention projection, MLP fc and
 * projection) compute {@code y = x W^T + b}. Embeddings, LayerNorms and the tied head are always
 * dense float32 (BitNet keeps them in high precision too).
 */
public enum LinearMode {
  /** Plain float32. */
  DENSE,
  /**
   * BitNet b1.58 (Ma et al. 2024, "The Era of 1-bit LLMs: All Large Language Models are in 1.58
   * Bits", arXiv:2402.17764): weights quantised in the forward pass to {-1, 0, +1} times their
   * absmean, activations to 8 bits by per-token absmax, straight-through estimator for both. See
   * {@link Quantizers#ternary} and {@link Quantizers#activations8}.
   */
  TERNARY,
  /**
   * Weights used as stored, activations quantised to 8 bits: how an exported ternary model (whose
   * weights are already {-s, 0, +s}) runs, so it computes exactly what it computed in training.
   */
  ACT8,
  /**
   * Self-compressing (Cséfalvay and Imber 2023, "Self-Compressing Neural Networks",
   * arXiv:2301.13142): every output channel of every block linear layer has a learnable bit depth b
   * >= 0 and exponent e; {@link Quantizers#selfCompress}. The extra parameters are named {@code
   * <layer>.bits} and {@code <layer>.exp}, shape (out, 1).
   */
  SELF_COMPRESSING,
  /**
   * Low-rank factorisation: W (out, in) = U (out, r) V (r, in), the factors trained directly, so a
   * layer holds r (in + out) weights instead of in * out. The parameters are named {@code
   * <layer>.u} and {@code <layer>.v}; the ranks are part of the architecture ({@link
   * dev.distill.models.gpt.Gpt#Gpt(dev.distill.models.gpt.GptConfig, java.util.Map)}).
   */
  LOW_RANK
}
