/**
 * The building blocks every model family shares (one design, see docs/architecture.md "One model
 * design for every family"): {@code CausalLm} (embed, blocks on a flat (B*T, C) stream, head),
 * {@code Attention} with fused q/k/v, grouped-query heads and RoPE, {@code LinearLayer} with a
 * {@code LinearKernel} per {@code LinearMode} (dense, ternary, 8-bit activations, self-compressing,
 * low-rank), norms, activations and the decoding cache.
 */
package dev.distill.models.nn;
