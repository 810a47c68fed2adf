/**
 * Autoregressive generation with a key/value cache: {@code CachedDecoder} runs one step over the
 * new positions, {@code Sampler} turns logits into token ids (greedy, temperature, top-k) for the
 * teacher's completions, rationales and on-policy student samples.
 */
package dev.distill.models.generation;
