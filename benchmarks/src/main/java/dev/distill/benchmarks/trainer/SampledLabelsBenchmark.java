package dev.distill.benchmarks.trainer;

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
    int[] vocab = text.chars().distinct().sorted().toArray();
    int v = vocab.length;
    int[] idOf = new int[65536];
    for (int i = 0; i < v; i++) {
      idOf[vocab[i]] = i;
    }
    int split = (int) (text.length() * 0.9);
    String held = text.substring(split);
    held = held.substring(held.length() / 2);
    double[][] counts = new double[v * v][v];
    for (int i = 2; i < split; i++) {
      counts[idOf[text.charAt(i - 2)] * v + idOf[text.charAt(i - 1)]][idOf[text.charAt(i)]]++;
    }
    int positions = Math.min(limit, held.length() - 2);
    float[][] p = new float[positions][];
    for (int i = 0; i < positions; i++) {
      double[] c = counts[idOf[held.charAt(i)] * v + idOf[held.charAt(i + 1)]];
      double[] q = new double[v];
      double z = 0;
      for (int j = 0; j < v; j++) {
        q[j] = Math.pow(c[j] + 0.01, 1.0 / t);
        z += q[j];
      }
      p[i] = new float[v];
      for (int j = 0; j < v; j++) {
        p[i][j] = (float) (q[j] / z);
      }
    }
    System.out.printf(
        Locale.ROOT,
        "teacher: char trigram, V=%d, T=%.1f, %d held-out positions, records of 64%n",
        v,
        t,
        positions);
    System.out.println("| labels | bytes/token | bias KL(p || E[label]) nats | mse |");
    System.out.println("|---|---|---|---|");
    for (int k : new int[] {1, 2, 3, 4, 6, 8}) {
      topK(p, k, v);
    }
    Random rng = new Random(seed);
    for (int n : new int[] {1, 2, 4, 6, 8, 12, 16}) {
      sampled(p, n, v, rng);
    }
  }

  private static void topK(float[][] p, int k, int v) {
    long bytes = 0;
    double kl = 0;
    double mse = 0;
    for (int from = 0; from < p.length; from += 64) {
      int n = Math.min(64, p.length - from);
      int[] ids = new int[n * k];
      float[] probs = new float[n * k];
      float[] tail = new float[n];
      for (int i = 0; i < n; i++) {
        Integer[] order = new Integer[v];
        for (int j = 0; j < v; j++) {
          order[j] = j;
        }
        float[] row = p[from + i];
        Arrays.sort(order, (a, b) -> Float.compare(row[b], row[a]));
        double kept = 0;
        for (int j = 0; j < k; j++) {
          ids[i * k + j] = order[j];
          probs[i * k + j] = row[order[j]];
          kept += row[order[j]];
        }
        tail[i] = (float) Math.max(0, 1 - kept);
      }
      byte[] enc = SoftLabelCodec.encode(new SoftLabels(n, k, ids, probs, tail));
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
    System.out.printf(
        Locale.ROOT,
        "| top-k + tail (v1), k=%d | %.2f | %.4f | %.5f |%n",
        k,
        (double) bytes / p.length,
        kl / p.length,
        mse / p.length);
  }

  private static void sampled(float[][] p, int n, int v, Random rng) {
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
    double[] klAt = new double[2];
    int[] rs = {1000, 10000};
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
    System.out.printf(
        Locale.ROOT,
        "| sampled (v2), N=%d | %.2f | %.4f (R=1000), %.4f (R=10000) | %.5f |%n",
        n,
        (double) bytes / p.length,
        klAt[0],
        klAt[1],
        mse / p.length);
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
