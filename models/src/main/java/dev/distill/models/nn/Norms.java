package dev.distill.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** The normalisations of the model families, over the last axis. */
public final class Norms {

  private Norms() {}

  /**
   * LayerNorm (Ba et al. 2016): {@code (x - mean) / sqrt(var + eps) * gamma + beta}, through the
   * engine's native op (a hand-written one is slower to train: REFERENCE.md).
   */
  public static NDArray layerNorm(NDArray x, NDArray gamma, NDArray beta, float eps) {
    return x.getNDArrayInternal()
        .layerNorm(x, new Shape(gamma.getShape().get(0)), gamma, beta, eps)
        .singletonOrThrow();
  }

  /**
   * RMSNorm (Zhang and Sennrich 2019, arXiv:1910.07467) as Hugging Face's {@code LlamaRMSNorm}:
   * {@code x / sqrt(mean(x^2) + eps) * weight}, in float32.
   */
  public static NDArray rmsNorm(NDArray x, NDArray weight, float eps) {
    NDArray ms = x.square().mean(new int[] {-1}, true).add(eps);
    return x.div(ms.sqrt()).mul(weight);
  }
}
