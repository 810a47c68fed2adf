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

  /**
   * Cached keys and values of {@code layer} in one array (B, 2 nKvHead, length, headSize): the keys
   * in heads 0 .. nKvHead-1, the values after them; null while empty. One array, so that a step
   * appends both with one concatenation (issue 13: decoding is bound by the number of engine ops).
   */
  NDArray keysValues(int layer);

  /** Replaces the keys and values of {@code layer} by {@code kv}, holding old and new positions. */
  void put(int layer, NDArray kv);

  /** A quantised weight stored by {@link #putWeight}, or null. */
  NDArray weight(String name);

  /** Keeps {@code w}, a quantised weight of layer {@code name}, for the rest of the generation. */
  void putWeight(String name, NDArray w);

  /** Counts {@code t} new positions, once every layer holds them. */
  void advance(int t);
}
