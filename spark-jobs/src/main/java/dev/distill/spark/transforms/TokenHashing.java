package dev.distill.spark.transforms;

import java.util.Arrays;
import java.util.List;

/**
 * 64-bit hashes of token n-grams, shared by near-duplicate detection and decontamination. The hash
 * of an n-gram is a chain of MurmurHash3's 64-bit finalizer over its token ids, so equal n-grams
 * hash equally in every JVM and run; two different n-grams collide with probability about 2^-64.
 */
final class TokenHashing {
  private TokenHashing() {}

  /** MurmurHash3's 64-bit finalizer (fmix64): a bijection that mixes every input bit. */
  public static long fmix64(long h) {
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    h *= 0xc4ceb9fe1a85ec53L;
    h ^= h >>> 33;
    return h;
  }

  /** Hash of {@code tokens[from, from + n)}. */
  public static long ngramHash(int[] tokens, int from, int n) {
    long h = 0x243F6A8885A308D3L ^ n;
    for (int i = from; i < from + n; i++) {
      h = fmix64(h * 0x9E3779B97F4A7C15L + (tokens[i] & 0xFFFFFFFFL) + 1);
    }
    return h;
  }

  /**
   * Sorted, distinct hashes of every n-gram of {@code tokens}; empty when the sequence is shorter
   * than n, unless {@code wholeIfShort}, in which case a non-empty short sequence is one n-gram.
   */
  public static long[] ngramHashes(int[] tokens, int n, boolean wholeIfShort) {
    long[] out = ngramHashesInOrder(tokens, n, wholeIfShort);
    Arrays.sort(out);
    int w = 0;
    for (int i = 0; i < out.length; i++) {
      if (i == 0 || out[i] != out[i - 1]) {
        out[w++] = out[i];
      }
    }
    return w == out.length ? out : Arrays.copyOf(out, w);
  }

  /**
   * The hashes of {@link #ngramHashes}, in the order of the n-grams, repeats kept: enough for a
   * minimum over the set (MinHash), which a repeat cannot change, without the sort.
   */
  static long[] ngramHashesInOrder(int[] tokens, int n, boolean wholeIfShort) {
    if (tokens.length < n) {
      return wholeIfShort && tokens.length > 0
          ? new long[] {ngramHash(tokens, 0, tokens.length)}
          : new long[0];
    }
    long[] out = new long[tokens.length - n + 1];
    for (int i = 0; i < out.length; i++) {
      out[i] = ngramHash(tokens, i, n);
    }
    return out;
  }

  /** Token ids of a Spark {@code array<int>} value (a Scala Seq or a Java List). */
  static int[] tokens(Object value) {
    if (value instanceof scala.collection.Seq<?> seq) {
      int[] out = new int[seq.size()];
      scala.collection.Iterator<?> it = seq.iterator();
      int i = 0;
      while (it.hasNext()) {
        out[i++] = ((Number) it.next()).intValue();
      }
      return out;
    }
    List<?> list = (List<?>) value;
    int[] out = new int[list.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = ((Number) list.get(i)).intValue();
    }
    return out;
  }
}
