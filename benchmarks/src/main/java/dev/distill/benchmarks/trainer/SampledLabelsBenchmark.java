package dev.distill.benchmarks.trainer;

import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.schemas.codec.SampledSoftLabelCodec;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * Stored bytes per token and bias of the two soft-label codecs (issue 15, ask 5): top-k + tail (v1)
 * against sampled ids with counts (v2, Anshumann et al. 2025), on held-out text. Not a test: prints
 * numbers.
 *
 * <p>The "teacher" is a character trigram model of the corpus' first 90% (add-0.01 smoothing), at
 * temperature T: a full distribution over the whole character vocabulary at every position of the
 * held-out text (the second half of the last 10%, as in the student-quality benchmark), cheap
 * enough to run anywhere without a checkpoint. Labels are encoded in records of 64 positions.
 *
 * <ul>
 *   <li><b>bytes/token</b>: encoded bytes over positions.
 *   <li><b>bias</b> = KL(p || E[label]) per position, nats, with the tail of top-k read uniformly
 *       (what a consumer of the codec can know). Top-k is deterministic, so its bias is its KL. For
 *       sampled labels E is estimated by the mean of R independent draws; what remains is
 *       Monte-Carlo noise that falls towards 0 as R grows (printed for R = 1000 and 10000 on 200
 *       positions), the mark of an unbiased label. (The KL of one sampled label from p is infinite:
 *       it has zeros.)
 *   <li><b>mse</b> = E ||label - p||^2 per position (bias^2 + variance; one draw for sampled).
 * </ul>
 *
 * Args: corpus file, T (default 2), positions (default 20000), seed (default 1).
 */
public final class SampledLabelsBenchmark {
  private SampledLabelsBenchmark() {}

  public static void main(String[] args) throws Exception {
    String text = Files.readString(Path.of(args[0]));
    double t = args.length > 1 ? Double.parseDouble(args[1]) : 2.0;
    int limit = args.length > 2 ? Integer.parseInt(args[2]) : 20000;
    long seed = args.length > 3 ? Long.parseLong(args[3]) : 1;
    int[] ids = CharTokenizer.fromCorpus(text).encode(text);
    int split = (int) (ids.length * 0.9);
    CharTrigramTeacher teacher =
        new CharTrigramTeacher(ids, split, CharTokenizer.fromCorpus(text).vocabSize(), t);
    int v = teacher.vocab();
    int heldFrom = split + (ids.length - split) / 2;
    int positions = Math.min(limit, ids.length - heldFrom - 2);
    float[][] p = teacher.rows(ids, heldFrom + 1, positions);
    System.out.printf(
        Locale.ROOT,
        "teacher: char trigram, V=%d, T=%.1f, %d held-out positions, records of 64%n",
        v,
        t,
        positions);
    System.out.println("| labels | bytes/token | bias KL(p || E[label]) nats | mse |");
    System.out.println("|---|---|---|---|");
    for (int k : new int[] {1, 2, 3, 4, 6, 8}) {
      double[] r = topK(p, k, v);
      System.out.printf(
          Locale.ROOT, "| top-k + tail (v1), k=%d | %.2f | %.4f | %.5f |%n", k, r[0], r[1], r[2]);
    }
    Random rng = new Random(seed);
    for (int n : new int[] {1, 2, 4, 6, 8, 12, 16}) {
      double[] r = sampled(p, n, v, rng, 1000, 10000);
      System.out.printf(
          Locale.ROOT,
          "| sampled (v2), N=%d | %.2f | %.4f (R=1000), %.4f (R=10000) | %.5f |%n",
          n,
          r[0],
          r[2],
          r[3],
          r[1]);
    }
  }

  /** Top-k + tail labels of {@code p}: {bytes/token, bias KL(p || label), mse}. */
  static double[] topK(float[][] p, int k, int v) {
    long bytes = 0;
    double kl = 0;
    double mse = 0;
    for (int from = 0; from < p.length; from += 64) {
      int n = Math.min(64, p.length - from);
      byte[] enc = SoftLabelCodec.encode(topKLabels(Arrays.copyOfRange(p, from, from + n), k));
      bytes += enc.length;
      SoftLabels dec = SoftLabelCodec.decode(enc);
      for (int i = 0; i < n; i++) {
        double[] label = new double[v];
        Arrays.fill(label, dec.tail(i) / (v - k));
        for (int j = 0; j < k; j++) {
          label[dec.id(i, j)] = dec.prob(i, j);
        }
        kl += kl(p[from + i], label);
        mse += mse(p[from + i], label);
      }
    }
    return new double[] {(double) bytes / p.length, kl / p.length, mse / p.length};
  }

  /** The k most probable ids of each row (ties: lower id) and the rest as the tail. */
  static SoftLabels topKLabels(float[][] rows, int k) {
    int n = rows.length;
    int[] ids = new int[n * k];
    float[] probs = new float[n * k];
    float[] tail = new float[n];
    for (int i = 0; i < n; i++) {
      float[] row = rows[i];
      Integer[] order = new Integer[row.length];
      for (int j = 0; j < row.length; j++) {
        order[j] = j;
      }
      Arrays.sort(order, (a, b) -> Float.compare(row[b], row[a]));
      double kept = 0;
      for (int j = 0; j < k; j++) {
        ids[i * k + j] = order[j];
        probs[i * k + j] = row[order[j]];
        kept += row[order[j]];
      }
      tail[i] = (float) Math.max(0, 1 - kept);
    }
    return new SoftLabels(n, k, ids, probs, tail);
  }

  /**
   * Sampled labels of {@code p}: {bytes/token, mse, then per R in {@code rs} the bias KL(p || mean
   * of R draws) on the first 200 positions}.
   */
  static double[] sampled(float[][] p, int n, int v, Random rng, int... rs) {
    long bytes = 0;
    double mse = 0;
    for (int from = 0; from < p.length; from += 64) {
      float[][] rows = Arrays.copyOfRange(p, from, Math.min(p.length, from + 64));
      byte[] enc = SampledSoftLabelCodec.encode(SampledSoftLabelCodec.sample(rows, n, rng));
      bytes += enc.length;
      SoftLabels dec = SampledSoftLabelCodec.decode(enc).toSoftLabels();
      for (int i = 0; i < rows.length; i++) {
        double[] label = new double[v];
        for (int j = 0; j < dec.k(); j++) {
          label[dec.id(i, j)] += dec.prob(i, j);
        }
        mse += mse(rows[i], label);
      }
    }
    // Bias: mean of R draws per position, on the first 200 positions (R draws each).
    int sub = Math.min(200, p.length);
    double[] klAt = new double[rs.length];
    for (int r = 0; r < rs.length; r++) {
      for (int i = 0; i < sub; i++) {
        float[][] rows = new float[rs[r]][];
        Arrays.fill(rows, p[i]);
        SoftLabels d = SampledSoftLabelCodec.sample(rows, n, rng).toSoftLabels();
        double[] mean = new double[v];
        for (int x = 0; x < rs[r]; x++) {
          for (int j = 0; j < d.k(); j++) {
            mean[d.id(x, j)] += d.prob(x, j) / rs[r];
          }
        }
        klAt[r] += kl(p[i], mean) / sub;
      }
    }
    double[] out = new double[2 + rs.length];
    out[0] = (double) bytes / p.length;
    out[1] = mse / p.length;
    System.arraycopy(klAt, 0, out, 2, rs.length);
    return out;
  }

  private static double kl(float[] p, double[] q) {
    double kl = 0;
    for (int j = 0; j < p.length; j++) {
      if (p[j] > 0) {
        kl += p[j] * Math.log(p[j] / Math.max(q[j], 1e-30));
      }
    }
    return kl;
  }

  private static double mse(float[] p, double[] q) {
    double s = 0;
    for (int j = 0; j < p.length; j++) {
      s += (p[j] - q[j]) * (p[j] - q[j]);
    }
    return s;
  }
}
