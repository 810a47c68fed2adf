package dev.distill.schemas.codec;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.Random;

/**
 * Soft-label codec v2, named {@value #NAME}: unbiased sampled soft labels (Random-Sampling KD,
 * Anshumann et al., ACL 2025, "Sparse Logit Sampling: Accelerating Knowledge Distillation in
 * LLMs"), beside the top-k + tail codec v1 ({@link SoftLabelCodec}).
 *
 * <p>Per position, N token ids are drawn <em>with replacement</em> from the teacher's distribution
 * {@code p} at temperature T, and each distinct id is stored with its count {@code c_i}. The
 * decoded label is {@code p_hat(i) = c_i / N}: the proposal is the teacher itself, so every
 * importance weight {@code p(i) / q(i)} is 1 and the weight of an id is its count over N. It is
 * unbiased, {@code E[p_hat(i)] = p(i)} for every id, so {@code -sum_i p_hat(i) log q_S(i)} is an
 * unbiased estimate of the cross-entropy {@code CE(p, q_S)} (and of its gradient, which is that of
 * the forward KL): no truncation bias, unlike top-k. The tail is 0 by construction.
 *
 * <h2>Byte layout</h2>
 *
 * <pre>
 * offset  size     field
 * 0       1        magic 0xD1 (as v1)
 * 1       1        codec version (2)
 * 2       varint   P, number of positions
 * .       varint   N, samples per position
 * then, P times:
 *         varint   m, distinct ids drawn (1..N)
 *         m varint ids, ascending; the first absolute, each next one as (id - previous - 1)
 *         m varint counts (each >= 1, summing to N)
 * </pre>
 *
 * With a character vocabulary and N = 12 this is about 1 + 2m bytes per position (m distinct ids).
 */
public final class SampledSoftLabelCodec {
  public static final String NAME = "sampled-counts";
  public static final int VERSION = 2;

  private SampledSoftLabelCodec() {}

  /**
   * Sampled labels of one sequence: per position the distinct ids drawn (ascending) and their
   * counts; {@code offsets[p] .. offsets[p + 1]} indexes position p.
   */
  public record Sampled(int positions, int samples, int[] offsets, int[] ids, int[] counts) {
    public Sampled {
      if (positions < 0 || samples < 1) {
        throw new IllegalArgumentException(
            "positions must be >= 0 and samples >= 1, got " + positions + ", " + samples);
      }
      if (offsets.length != positions + 1 || ids.length != counts.length) {
        throw new IllegalArgumentException("offsets, ids and counts do not fit " + positions);
      }
      for (int p = 0; p < positions; p++) {
        int total = 0;
        for (int j = offsets[p]; j < offsets[p + 1]; j++) {
          if (counts[j] < 1 || ids[j] < 0 || (j > offsets[p] && ids[j] <= ids[j - 1])) {
            throw new IllegalArgumentException(
                "position " + p + ": ids must ascend, be >= 0, with counts >= 1");
          }
          total += counts[j];
        }
        if (total != samples) {
          throw new IllegalArgumentException(
              "position " + p + ": counts sum to " + total + ", expected " + samples);
        }
      }
    }

    /**
     * The unbiased estimate as {@link SoftLabels}: {@code k} = the largest number of distinct ids
     * at any position, probabilities {@code c_i / N}, tail 0, {@link SoftLabels#sampled()} true;
     * positions with fewer ids are padded with the lowest unused ids at probability 0 (so ids stay
     * distinct).
     */
    public SoftLabels toSoftLabels() {
      int k = 1;
      for (int p = 0; p < positions; p++) {
        k = Math.max(k, offsets[p + 1] - offsets[p]);
      }
      return toSoftLabels(k);
    }

    /**
     * As {@link #toSoftLabels()} padded to a fixed {@code k} (at least the most distinct ids at any
     * position): with {@code k = N} every record of a data set has the same k, as a batch needs.
     */
    public SoftLabels toSoftLabels(int k) {
      for (int p = 0; p < positions; p++) {
        if (offsets[p + 1] - offsets[p] > k) {
          throw new IllegalArgumentException(
              "position " + p + " has " + (offsets[p + 1] - offsets[p]) + " distinct ids > k=" + k);
        }
      }
      int[] outIds = new int[positions * k];
      float[] probs = new float[positions * k];
      for (int p = 0; p < positions; p++) {
        int m = offsets[p + 1] - offsets[p];
        for (int j = 0; j < m; j++) {
          outIds[p * k + j] = ids[offsets[p] + j];
          probs[p * k + j] = (float) counts[offsets[p] + j] / samples;
        }
        int next = 0;
        for (int j = m; j < k; j++) {
          while (Arrays.binarySearch(ids, offsets[p], offsets[p + 1], next) >= 0) {
            next++;
          }
          outIds[p * k + j] = next++;
        }
      }
      return new SoftLabels(positions, k, outIds, probs, new float[positions], true);
    }
  }

  /**
   * The counts back from sampled {@link SoftLabels} (the inverse of {@link
   * Sampled#toSoftLabels(int)}): {@code c_i = round(p_i * n)}, ids of probability 0 dropped.
   *
   * @throws IllegalArgumentException when the labels are not sampled, or their counts do not sum to
   *     {@code n} at some position
   */
  public static Sampled fromSoftLabels(SoftLabels labels, int n) {
    if (!labels.sampled()) {
      throw new IllegalArgumentException("top-k + tail labels are not sampled counts");
    }
    int positions = labels.positions();
    int k = labels.k();
    int[] offsets = new int[positions + 1];
    int[] ids = new int[positions * k];
    int[] counts = new int[positions * k];
    int at = 0;
    Integer[] order = new Integer[k];
    for (int p = 0; p < positions; p++) {
      SoftLabelCodec.idOrder(labels, p, order);
      for (int j : order) {
        int c = Math.round(labels.prob(p, j) * n);
        if (c > 0) {
          ids[at] = labels.id(p, j);
          counts[at] = c;
          at++;
        }
      }
      offsets[p + 1] = at;
    }
    return new Sampled(positions, n, offsets, Arrays.copyOf(ids, at), Arrays.copyOf(counts, at));
  }

  /**
   * Draws {@code n} ids with replacement from each row of {@code probs} (P rows of V, each summing
   * to 1 up to rounding; inverse-CDF sampling on the row's running sum).
   */
  public static Sampled sample(float[][] probs, int n, Random rng) {
    if (n < 1) {
      throw new IllegalArgumentException("samples must be >= 1, got " + n);
    }
    int positions = probs.length;
    int[] offsets = new int[positions + 1];
    int[] ids = new int[positions * n];
    int[] counts = new int[positions * n];
    int at = 0;
    for (int p = 0; p < positions; p++) {
      float[] row = probs[p];
      double[] cdf = new double[row.length];
      double run = 0;
      for (int i = 0; i < row.length; i++) {
        run += Math.max(0f, row[i]);
        cdf[i] = run;
      }
      int[] drawn = new int[n];
      for (int s = 0; s < n; s++) {
        double u = rng.nextDouble() * run;
        int i = Arrays.binarySearch(cdf, u);
        i = i >= 0 ? i + 1 : -i - 1;
        // skip zero-probability ids (equal cdf) so an id of probability 0 is never drawn
        while (i < row.length - 1 && row[i] <= 0f) {
          i++;
        }
        drawn[s] = Math.min(i, row.length - 1);
      }
      at = appendCounts(drawn, ids, counts, at);
      offsets[p + 1] = at;
    }
    return new Sampled(positions, n, offsets, Arrays.copyOf(ids, at), Arrays.copyOf(counts, at));
  }

  /**
   * Sorts one position's draws and appends each distinct id with its count at {@code at}; returns
   * the next free index.
   */
  static int appendCounts(int[] drawn, int[] ids, int[] counts, int at) {
    Arrays.sort(drawn);
    for (int s = 0; s < drawn.length; s++) {
      if (s > 0 && drawn[s] == drawn[s - 1]) {
        counts[at - 1]++;
      } else {
        ids[at] = drawn[s];
        counts[at++] = 1;
      }
    }
    return at;
  }

  public static byte[] encode(Sampled s) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(4 + s.ids().length * 3 + s.positions());
    out.write(SoftLabelCodec.MAGIC);
    out.write(VERSION);
    writeVarint(out, s.positions());
    writeVarint(out, s.samples());
    for (int p = 0; p < s.positions(); p++) {
      int from = s.offsets()[p];
      int to = s.offsets()[p + 1];
      writeVarint(out, to - from);
      int prev = -1;
      for (int j = from; j < to; j++) {
        writeVarint(out, prev < 0 ? s.ids()[j] : s.ids()[j] - prev - 1);
        prev = s.ids()[j];
      }
      for (int j = from; j < to; j++) {
        writeVarint(out, s.counts()[j]);
      }
    }
    return out.toByteArray();
  }

  /**
   * @throws CodecException naming what is wrong with the bytes
   */
  public static Sampled decode(byte[] bytes) {
    int[] pos = {0};
    int magic = u8(bytes, pos);
    if (magic != SoftLabelCodec.MAGIC) {
      throw new CodecException(String.format("bad magic byte 0x%02X, expected 0xD1", magic));
    }
    int version = u8(bytes, pos);
    if (version != VERSION) {
      throw new CodecException(
          "codec version " + version + " is not " + NAME + " (version " + VERSION + ")");
    }
    int positions = varint(bytes, pos);
    int n = varint(bytes, pos);
    if (positions < 0 || n < 1 || positions > bytes.length) {
      throw new CodecException("implausible header: positions=" + positions + " samples=" + n);
    }
    int[] offsets = new int[positions + 1];
    int[] ids = new int[Math.min(bytes.length, positions * n)];
    int[] counts = new int[ids.length];
    int at = 0;
    for (int p = 0; p < positions; p++) {
      int m = varint(bytes, pos);
      if (m < 1 || m > n || at + m > ids.length) {
        throw new CodecException("position " + p + ": " + m + " distinct ids of " + n + " samples");
      }
      int prev = -1;
      for (int j = 0; j < m; j++) {
        int v = varint(bytes, pos);
        ids[at + j] = prev < 0 ? v : prev + 1 + v;
        prev = ids[at + j];
      }
      for (int j = 0; j < m; j++) {
        counts[at + j] = varint(bytes, pos);
      }
      at += m;
      offsets[p + 1] = at;
    }
    if (pos[0] != bytes.length) {
      throw new CodecException(
          (bytes.length - pos[0]) + " trailing bytes after " + positions + " positions");
    }
    try {
      return new Sampled(positions, n, offsets, Arrays.copyOf(ids, at), Arrays.copyOf(counts, at));
    } catch (IllegalArgumentException e) {
      throw new CodecException("invalid sampled labels: " + e.getMessage());
    }
  }

  /** The codec version byte of any soft-label encoding (1: top-k + tail, 2: sampled). */
  public static int versionOf(byte[] bytes) {
    if (bytes.length < 2 || (bytes[0] & 0xFF) != SoftLabelCodec.MAGIC) {
      throw new CodecException("not a soft-label encoding (magic 0xD1 expected)");
    }
    return bytes[1] & 0xFF;
  }

  private static int u8(byte[] b, int[] pos) {
    if (pos[0] >= b.length) {
      throw new CodecException("truncated at byte " + pos[0]);
    }
    return b[pos[0]++] & 0xFF;
  }

  private static int varint(byte[] b, int[] pos) {
    int result = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      int x = u8(b, pos);
      result |= (x & 0x7F) << shift;
      if ((x & 0x80) == 0) {
        return result;
      }
    }
    throw new CodecException("varint longer than 5 bytes at byte " + pos[0]);
  }

  private static void writeVarint(ByteArrayOutputStream out, int v) {
    while ((v & ~0x7F) != 0) {
      out.write((v & 0x7F) | 0x80);
      v >>>= 7;
    }
    out.write(v);
  }
}
