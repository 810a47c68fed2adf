package dev.distill.schemas.codec;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;

/**
 * Soft-label codec v1, named {@value #NAME}: top-k ids delta-coded as varints, probabilities as
 * 16-bit fixed-point negative log-probabilities.
 *
 * <h2>Byte layout</h2>
 *
 * <pre>
 * offset  size     field
 * 0       1        magic 0xD1
 * 1       1        codec version (1)
 * 2       varint   P, number of positions
 * .       varint   k, ids per position
 * then, P times:
 *         k varint ids, ascending; the first absolute, each next one as (id - previous - 1)
 *         k uint16 little-endian probability codes, in the same (ascending id) order
 *         1 uint16 little-endian tail-mass code
 * </pre>
 *
 * A probability code is {@code q = round(-ln(p) * 4096)}, so {@code p = exp(-q / 4096)}: a relative
 * error of at most 1.2e-4 for any p >= 1.1e-7 (16 nats); {@code 0xFFFF} means p = 0 (anything below
 * the range). Storing log-probabilities makes the error relative, which is what a KL divergence is
 * sensitive to. Because the encoder's input sums to 1 (top-k plus tail), the decoder divides by the
 * decoded total when rounding pushed it above 1, so decoded labels never claim more than all of the
 * mass.
 *
 * <p>With a character vocabulary (ids < 128) and k = 8 this is 8 + 16 + 2 = 26 bytes per position;
 * a 50k vocabulary costs about 2 bytes per id delta, so about 34 bytes per position at k = 8.
 */
public final class SoftLabelCodec {
  public static final String NAME = "topk-logq16";
  public static final int VERSION = 1;
  static final int MAGIC = 0xD1;
  static final double SCALE = 4096.0;
  static final int ZERO_CODE = 0xFFFF;

  private SoftLabelCodec() {}

  /** Encodes labels; ids within a position must be distinct (they are sorted here). */
  public static byte[] encode(SoftLabels labels) {
    int p = labels.positions();
    int k = labels.k();
    ByteArrayOutputStream out = new ByteArrayOutputStream(4 + p * (k * 3 + 2));
    out.write(MAGIC);
    out.write(VERSION);
    writeVarint(out, p);
    writeVarint(out, k);
    Integer[] order = new Integer[k];
    for (int pos = 0; pos < p; pos++) {
      idOrder(labels, pos, order);
      int prev = -1;
      for (int j = 0; j < k; j++) {
        int id = labels.id(pos, order[j]);
        if (id < 0) {
          throw new IllegalArgumentException("negative token id " + id + " at position " + pos);
        }
        if (id <= prev) {
          throw new IllegalArgumentException("duplicate token id " + id + " at position " + pos);
        }
        writeVarint(out, prev < 0 ? id : id - prev - 1);
        prev = id;
      }
      for (int j = 0; j < k; j++) {
        writeU16(out, probCode(labels.prob(pos, order[j])));
      }
      writeU16(out, probCode(labels.tail(pos)));
    }
    return out.toByteArray();
  }

  /** Fills {@code order} with the label indices of position {@code pos} by ascending id. */
  static void idOrder(SoftLabels labels, int pos, Integer[] order) {
    for (int j = 0; j < order.length; j++) {
      order[j] = j;
    }
    Arrays.sort(order, (a, b) -> Integer.compare(labels.id(pos, a), labels.id(pos, b)));
  }

  /**
   * Decodes bytes written by {@link #encode}; ids come back ascending within each position.
   *
   * @throws CodecException naming what is wrong with the bytes
   */
  public static SoftLabels decode(byte[] bytes) {
    Reader in = new Reader(bytes);
    int magic = in.u8();
    if (magic != MAGIC) {
      throw new CodecException(String.format("bad magic byte 0x%02X, expected 0xD1", magic));
    }
    int version = in.u8();
    if (version != VERSION) {
      throw new CodecException("unsupported codec version " + version + ", this reader knows 1");
    }
    int p = in.varint();
    int k = in.varint();
    if (k <= 0 || p < 0 || (long) p * k > bytes.length) {
      throw new CodecException("implausible header: positions=" + p + " k=" + k);
    }
    int[] ids = new int[p * k];
    float[] probs = new float[p * k];
    float[] tail = new float[p];
    for (int pos = 0; pos < p; pos++) {
      int prev = -1;
      for (int j = 0; j < k; j++) {
        int v = in.varint();
        int id = prev < 0 ? v : prev + 1 + v;
        ids[pos * k + j] = id;
        prev = id;
      }
      double total = 0;
      for (int j = 0; j < k; j++) {
        float pr = probFromCode(in.u16());
        probs[pos * k + j] = pr;
        total += pr;
      }
      tail[pos] = probFromCode(in.u16());
      total += tail[pos];
      if (total > 1.0) {
        for (int j = 0; j < k; j++) {
          probs[pos * k + j] = (float) (probs[pos * k + j] / total);
        }
        tail[pos] = (float) (tail[pos] / total);
      }
    }
    if (in.remaining() != 0) {
      throw new CodecException(in.remaining() + " trailing bytes after " + p + " positions");
    }
    return new SoftLabels(p, k, ids, probs, tail);
  }

  /** Stored bytes per labelled position (token): the product's headline storage number. */
  public static double bytesPerToken(byte[] encoded, int positions) {
    return positions == 0 ? 0.0 : (double) encoded.length / positions;
  }

  static int probCode(float p) {
    if (!(p > 0f)) {
      return ZERO_CODE;
    }
    double q = Math.rint(-Math.log(Math.min(1.0, p)) * SCALE);
    return q >= ZERO_CODE ? ZERO_CODE : (int) q;
  }

  static float probFromCode(int code) {
    return code == ZERO_CODE ? 0f : (float) Math.exp(-code / SCALE);
  }

  private static void writeVarint(ByteArrayOutputStream out, int v) {
    while ((v & ~0x7F) != 0) {
      out.write((v & 0x7F) | 0x80);
      v >>>= 7;
    }
    out.write(v);
  }

  private static void writeU16(ByteArrayOutputStream out, int v) {
    out.write(v & 0xFF);
    out.write((v >>> 8) & 0xFF);
  }

  private static final class Reader {
    private final byte[] b;
    private int i;

    Reader(byte[] b) {
      this.b = b;
    }

    int remaining() {
      return b.length - i;
    }

    int u8() {
      if (i >= b.length) {
        throw new CodecException("truncated at byte " + i);
      }
      return b[i++] & 0xFF;
    }

    int u16() {
      int lo = u8();
      return lo | (u8() << 8);
    }

    int varint() {
      int result = 0;
      for (int shift = 0; shift < 35; shift += 7) {
        int x = u8();
        result |= (x & 0x7F) << shift;
        if ((x & 0x80) == 0) {
          return result;
        }
      }
      throw new CodecException("varint longer than 5 bytes at byte " + i);
    }
  }
}
