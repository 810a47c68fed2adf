package dev.distill.models.generation;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.distill.models.gpt.KvCache;
import dev.distill.models.gpt.LanguageModel;
import java.util.Arrays;

/**
 * Next-token logits of growing sequences through a {@link KvCache}: the caller passes the whole
 * sequences every step (as it would to {@link LanguageModel#logits}); the decoder runs the model
 * only on the positions it has not seen, when the new sequences extend the ones of its previous
 * call by one token each; rows of the previous call may be left out (finished sequences of a batch:
 * their cached rows are dropped), the others keeping their order. Otherwise (first call, other
 * sequences, a context that reached blockSize) it re-encodes the last {@code min(len, blockSize)}
 * tokens from scratch, nanoGPT's crop: the learned position embeddings are absolute, so the keys of
 * a shifted window cannot be reused, and past blockSize every step costs a full forward of the
 * window, as without a cache. Either way the logits are those of a full forward of the cropped
 * context (up to float rounding).
 *
 * <p>Inference only (no gradients); arrays live in the cache's sub-manager, freed by {@link
 * #close()}. One per generation; not thread-safe.
 */
public final class CachedDecoder implements AutoCloseable {

  private final LanguageModel lm;
  private final KvCache cache;
  private final NDManager manager;

  /** The sequences of the previous call, or null. */
  private int[][] seen;

  private int prefills;

  public CachedDecoder(LanguageModel lm) {
    this.lm = lm;
    this.cache = lm.newKvCache();
    this.manager = lm.model().getNDManager().newSubManager();
  }

  /**
   * Logits (B, V) of the position after the last token of each of {@code sequences} (B rows of
   * equal length >= 1).
   *
   * @throws IllegalArgumentException for an empty batch, rows of different or zero length, an id
   *     outside [0, vocabSize)
   */
  public float[][] nextLogits(int[][] sequences) {
    return next(sequences, false);
  }

  /**
   * Log-probabilities at T = 1 (B, V) of the token after each of {@code sequences}: {@link
   * #nextLogits(int[][])} through the engine's log-softmax.
   */
  public float[][] nextLogprobs(int[][] sequences) {
    return next(sequences, true);
  }

  private float[][] next(int[][] sequences, boolean logSoftmax) {
    if (sequences.length == 0) {
      throw new IllegalArgumentException("empty batch");
    }
    int len = sequences[0].length;
    for (int i = 0; i < sequences.length; i++) {
      if (sequences[i].length != len || len == 0) {
        throw new IllegalArgumentException(
            "row " + i + " has length " + sequences[i].length + ", row 0 has " + len);
      }
    }
    int[][] input;
    int[] rows = cache.remaining() > 0 ? rowsExtendedByOne(sequences) : null;
    if (rows != null) {
      if (rows.length != seen.length || !isIdentity(rows)) {
        cache.retainRows(rows);
      }
      input = new int[sequences.length][];
      for (int i = 0; i < sequences.length; i++) {
        input[i] = new int[] {sequences[i][len - 1]};
      }
    } else {
      cache.reset();
      prefills++;
      int from = Math.max(0, len - lm.config().blockSize());
      input = new int[sequences.length][];
      for (int i = 0; i < sequences.length; i++) {
        input[i] = Arrays.copyOfRange(sequences[i], from, len);
      }
    }
    seen = null; // stays null if the forward fails: the next call re-encodes
    float[] flat;
    try (NDManager step = manager.newSubManager()) {
      NDArray logits = cache.logits(step, input); // (B, t, V)
      // one new position per row (decoding): the logits are already the last ones, no index op
      NDArray last = input[0].length == 1 ? logits : logits.get(":, -1, :");
      flat = (logSoftmax ? last.logSoftmax(-1) : last).toFloatArray();
    }
    int v = lm.vocabSize();
    float[][] out = new float[sequences.length][];
    for (int i = 0; i < out.length; i++) {
      out[i] = Arrays.copyOfRange(flat, i * v, (i + 1) * v);
    }
    seen = new int[sequences.length][];
    for (int i = 0; i < sequences.length; i++) {
      seen[i] = sequences[i].clone();
    }
    return out;
  }

  /** Logits (V) after the last token of one sequence; see {@link #nextLogits(int[][])}. */
  public float[] nextLogits(int[] sequence) {
    return nextLogits(new int[][] {sequence})[0];
  }

  /** How many calls re-encoded their context from scratch (the first one included). */
  public int prefills() {
    return prefills;
  }

  /**
   * For each sequence, in order, the index of a row of the previous call that it extends by one
   * token, the indices increasing (callers drop finished rows but keep the order); null when some
   * sequence has none. Rows with equal tokens have equal cached keys, so which one matches does not
   * matter.
   */
  private int[] rowsExtendedByOne(int[][] sequences) {
    if (seen == null || cache.length() == 0) {
      return null;
    }
    int[] rows = new int[sequences.length];
    int j = 0;
    for (int i = 0; i < sequences.length; i++) {
      while (j < seen.length && !extendsByOne(sequences[i], seen[j])) {
        j++;
      }
      if (j == seen.length) {
        return null;
      }
      rows[i] = j++;
    }
    return rows;
  }

  private static boolean extendsByOne(int[] now, int[] old) {
    return now.length == old.length + 1 && Arrays.equals(now, 0, old.length, old, 0, old.length);
  }

  private static boolean isIdentity(int[] rows) {
    for (int i = 0; i < rows.length; i++) {
      if (rows[i] != i) {
        return false;
      }
    }
    return true;
  }

  @Override
  public void close() {
    try {
      cache.close();
    } finally {
      manager.close();
    }
  }
}
