package dev.distill.models.gpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import dev.distill.models.nn.DecodeCache;
import dev.distill.models.nn.LinearMode;
import java.util.HashMap;
import java.util.Map;

/**
 * The keys and values of every layer for the positions decoded so far, for incremental
 * (inference-only) decoding: {@link #logits} runs the model on the next tokens only, at positions
 * {@code length() .. length() + t - 1}, each attending to the cached keys and values and to those
 * of the new tokens before it. The logits equal those of a full forward over the whole prefix (up
 * to float rounding: the matrix products have other shapes).
 *
 * <p>Made by {@link LanguageModel#newKvCache()}; its arrays live in a sub-manager of the model's
 * manager that {@link #close()} closes, so create one per generation. Not thread-safe. The
 * quantised weights of a {@link LinearMode#TERNARY} or {@link LinearMode#SELF_COMPRESSING} model,
 * and the fused q/k/v weights of a Llama-family model ({@code LinearLayer.forwardFused}), are
 * computed once per cache: do not change the parameters while a cache is open.
 *
 * <p>The cache holds at most {@code blockSize} positions (the size of the learned position
 * embedding). A caller whose context grows past that must {@link #reset()} and re-encode the last
 * {@code blockSize} tokens, as nanoGPT's crop does; {@code Sampler} does so.
 */
public final class KvCache implements DecodeCache, AutoCloseable {

  private final LanguageModel model;
  private final NDManager manager;

  /** Per layer: keys then values (B, 2 nKvHead, length, headSize), null while empty. */
  private final NDArray[] kv;

  /** Quantised weights of the compressed modes by layer name, kept across {@link #reset()}. */
  private final Map<String, NDArray> weights = new HashMap<>();

  private int length;
  private int batch;

  KvCache(LanguageModel model, NDManager manager) {
    this.model = model;
    this.manager = manager;
    int layers = model.config().nLayer();
    this.kv = new NDArray[layers];
  }

  /** Number of positions cached. */
  @Override
  public int length() {
    return length;
  }

  /** Positions that can still be appended before the context is full. */
  public int remaining() {
    return model.config().blockSize() - length;
  }

  /** Forgets every cached position (frees the arrays); the next {@link #logits} starts at 0. */
  public void reset() {
    for (int i = 0; i < kv.length; i++) {
      close(kv[i]);
      kv[i] = null;
    }
    length = 0;
    batch = 0;
  }

  /**
   * Keeps only the cached rows {@code rows} (indices into the current batch, in the new batch's
   * order; a row may repeat), e.g. when some sequences of a batch have finished.
   *
   * @throws IllegalArgumentException for an empty cache or an index outside the batch
   */
  public void retainRows(int[] rows) {
    if (length == 0) {
      throw new IllegalArgumentException("the cache is empty");
    }
    long[] idx = new long[rows.length];
    for (int i = 0; i < rows.length; i++) {
      if (rows[i] < 0 || rows[i] >= batch) {
        throw new IllegalArgumentException(
            "row " + rows[i] + " outside the cached batch of " + batch);
      }
      idx[i] = rows[i];
    }
    if (rows.length == 0) {
      reset();
      return;
    }
    try (NDArray index = manager.create(idx)) {
      for (int l = 0; l < kv.length; l++) {
        // results on the cached arrays' manager, i.e. this cache's
        put(l, kv[l].get(new NDIndex("{}", index)));
      }
    }
    batch = rows.length;
  }

  /**
   * Runs the model on {@code tokens} (B rows of equal length t) as the continuation of the cached
   * positions, appends their keys and values, and returns their logits (B, t, V) float32 attached
   * to {@code manager} (the caller closes it). No dropout, no gradient recording.
   *
   * @throws IllegalArgumentException for an empty batch, rows of different lengths, an id outside
   *     [0, vocabSize), a batch size other than the cached one, or {@code length() + t > blockSize}
   */
  public NDArray logits(NDManager manager, int[][] tokens) {
    if (tokens.length > 0 && length > 0 && tokens.length != batch) {
      throw new IllegalArgumentException(
          "batch of " + tokens.length + " rows, the cache holds " + batch);
    }
    if (tokens.length > 0 && tokens[0].length > remaining()) {
      throw new IllegalArgumentException(
          tokens[0].length
              + " more positions after the "
              + length
              + " cached exceed blockSize="
              + model.config().blockSize()
              + ": reset() and re-encode the last blockSize tokens");
    }
    NDArray out = model.cachedLogits(manager, tokens, this);
    batch = tokens.length;
    return out;
  }

  /** Cached keys then values of {@code layer} (B, 2 nKvHead, length, headSize), or null. */
  @Override
  public NDArray keysValues(int layer) {
    return kv[layer];
  }

  /**
   * Replaces the keys and values of {@code layer} by {@code kv} (which holds the old positions
   * followed by the new ones) and moves it to this cache's manager.
   */
  @Override
  public void put(int layer, NDArray kv) {
    if (this.kv[layer] != kv) {
      close(this.kv[layer]);
    }
    kv.attach(manager);
    this.kv[layer] = kv;
  }

  /**
   * The quantised weight of block linear layer {@code name} stored by {@link #putWeight}, or null.
   */
  @Override
  public NDArray weight(String name) {
    return weights.get(name);
  }

  /** Keeps {@code w}, a quantised weight computed in a step, for the rest of this generation. */
  @Override
  public void putWeight(String name, NDArray w) {
    w.attach(manager);
    weights.put(name, w);
  }

  /** Counts {@code t} new positions, once every layer holds them. */
  @Override
  public void advance(int t) {
    length += t;
  }

  private static void close(NDArray a) {
    if (a != null) {
      a.close();
    }
  }

  @Override
  public void close() {
    reset();
    manager.close();
  }
}
