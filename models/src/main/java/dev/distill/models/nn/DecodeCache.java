package dev.distill.models.nn;

import ai.djl.ndarray.NDArray;

/**
 * What a cached (incremental, inference-only) forward needs from a key/value cache: per layer the
 * keys and values of the positions decoded so far, and the quantised weights of the compressed
 * linear modes computed once per generation. {@code dev.distill.models.gpt.KvCache} implements it
 * for every model family.
 */
public interface DecodeCache {

  /** Number of positions cached: the next token's position. */
  int length();

  /** Cached keys of {@code layer} (B, nKvHead, length, headSize), or null while empty. */
  NDArray keys(int layer);

  /** Cached values of {@code layer} (B, nKvHead, length, headSize), or null while empty. */
  NDArray values(int layer);

  /** Replaces the keys and values of {@code layer} by arrays holding old and new positions. */
  void put(int layer, NDArray keys, NDArray values);

  /** A quantised weight stored by {@link #putWeight}, or null. */
  NDArray weight(String name);

  /** Keeps {@code w}, a quantised weight of layer {@code name}, for the rest of the generation. */
  void putWeight(String name, NDArray w);

  /** Counts {@code t} new positions, once every layer holds them. */
  void advance(int t);
}
