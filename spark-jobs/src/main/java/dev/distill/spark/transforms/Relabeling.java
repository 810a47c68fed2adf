package dev.distill.spark.transforms;

import dev.distill.schemas.codec.SampledSoftLabelCodec;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.schemas.codec.TopKTailSampling;
import java.util.Arrays;
import java.util.Locale;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Derives new soft labels from stored ones without the teacher.
 *
 * <h2>New temperature (an approximation)</h2>
 *
 * Probabilities at T relate to logits z by {@code p_i ∝ exp(z_i / T)}, so at T' they are {@code
 * p_i^(T/T')} renormalised. We know only the top-k {@code p_i} and the tail mass; the tail is
 * treated as <em>one bucket</em>: {@code q_i = p_i^a / Z}, {@code q_tail = tail^a / Z}, {@code a =
 * T/T'}, {@code Z = sum_j p_j^a + tail^a}. This is exact for the top-k ratios among themselves, but
 * the tail's true new mass is {@code sum over tail tokens of p^a}, which for {@code a < 1} (hotter)
 * is larger than {@code tail^a} (the one-bucket estimate under-states the tail) and for {@code a >
 * 1} (colder) smaller. The error is small when the tail mass is small; derive hotter labels only
 * from sets whose tail is small.
 *
 * <h2>Smaller k</h2>
 *
 * Keeps the k' most probable ids of each position (ties: lower id) and moves the dropped mass into
 * the tail: exact, no approximation. Temperature first, then k.
 *
 * <h2>Sampled labels (codec v2)</h2>
 *
 * {@link #sample} draws N ids per position, with replacement, from each record read as its top-k
 * plus a tail spread uniformly over the other {@code V - k} ids ({@link TopKTailSampling}; Random-
 * Sampling KD, Anshumann et al., ACL 2025). The counts are unbiased for that reading of the record
 * (tail mass right in expectation, tail shape uniform), not for the teacher's own tail.
 * Deterministic per (example id, position, seed). Only top-k + tail (v1) records are derived from.
 *
 * <h2>KL of a derived set from its source</h2>
 *
 * {@code KL(source || derived)} per position, on the source's k + 1 buckets (its ids and its tail).
 * A derived distribution spreads its tail uniformly over the {@code V - k'} ids outside its top-k',
 * so a dropped id gets {@code tail' / (V - k')} and the source's tail bucket {@code tail' (V - k) /
 * (V - k')}. Reported as the mean over positions, in nats. For a sampled set the report gives
 * {@code KL(sampled || source)} instead ({@link #sampledKlSum}: the noise of N draws, finite, where
 * the other direction is infinite at every id not drawn).
 */
public final class Relabeling {
  public static final String KL = "_relabel_kl";
  public static final String POSITIONS = "_relabel_positions";

  /**
   * One derived set.
   *
   * @param temperature new temperature, or null to keep the source's
   * @param k new k (at most the source's), or null to keep it
   */
  public record Variant(Double temperature, Integer k) implements java.io.Serializable {
    public Variant {
      if (temperature != null && !(temperature > 0 && Double.isFinite(temperature))) {
        throw new IllegalArgumentException("temperature must be > 0, got " + temperature);
      }
      if (k != null && k < 1) {
        throw new IllegalArgumentException("k must be >= 1, got " + k);
      }
      if (temperature == null && k == null) {
        throw new IllegalArgumentException("a variant changes the temperature, k or both");
      }
    }

    /** Parses {@code t=1.5}, {@code k=4} or {@code t=1.5,k=4}. */
    public static Variant parse(String spec) {
      Double t = null;
      Integer k = null;
      for (String part : spec.split(",")) {
        String[] kv = part.trim().split("=", 2);
        if (kv.length != 2) {
          throw new IllegalArgumentException("variant wants t=T,k=K, got " + spec);
        }
        try {
          switch (kv[0].trim().toLowerCase(Locale.ROOT)) {
            case "t" -> t = Double.parseDouble(kv[1].trim());
            case "k" -> k = Integer.parseInt(kv[1].trim());
            default -> throw new IllegalArgumentException("variant wants t=T,k=K, got " + spec);
          }
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("variant wants numbers, got " + spec);
        }
      }
      return new Variant(t, k);
    }

    /** Folder name of the derived set, e.g. {@code t1.0-k4}. */
    public String name() {
      return (temperature == null ? "" : "t" + temperature)
          + (temperature != null && k != null ? "-" : "")
          + (k == null ? "" : "k" + k);
    }
  }

  private Relabeling() {}

  /** Re-tempers from {@code tOld} to {@code tNew} with the tail as one bucket. */
  public static SoftLabels retemper(SoftLabels s, double tOld, double tNew) {
    double a = tOld / tNew;
    int k = s.k();
    int[] ids = s.ids();
    float[] probs = new float[s.positions() * k];
    float[] tail = new float[s.positions()];
    for (int p = 0; p < s.positions(); p++) {
      double[] q = new double[k];
      double z = 0;
      for (int j = 0; j < k; j++) {
        q[j] = s.prob(p, j) > 0 ? Math.pow(s.prob(p, j), a) : 0;
        z += q[j];
      }
      double t = s.tail(p) > 0 ? Math.pow(s.tail(p), a) : 0;
      z += t;
      for (int j = 0; j < k; j++) {
        probs[p * k + j] = (float) (q[j] / z);
      }
      tail[p] = (float) (t / z);
    }
    return new SoftLabels(s.positions(), k, ids, probs, tail);
  }

  /** Keeps the {@code k2} most probable ids per position; the rest goes into the tail. */
  public static SoftLabels truncate(SoftLabels s, int k2) {
    int k = s.k();
    if (k2 >= k) {
      return s;
    }
    int[] ids = new int[s.positions() * k2];
    float[] probs = new float[s.positions() * k2];
    float[] tail = new float[s.positions()];
    Integer[] order = new Integer[k];
    for (int p = 0; p < s.positions(); p++) {
      final int at = p;
      for (int j = 0; j < k; j++) {
        order[j] = j;
      }
      Arrays.sort(
          order,
          (x, y) -> {
            int c = Float.compare(s.prob(at, y), s.prob(at, x));
            return c != 0 ? c : Integer.compare(s.id(at, x), s.id(at, y));
          });
      double dropped = 0;
      for (int j = 0; j < k; j++) {
        if (j < k2) {
          ids[p * k2 + j] = s.id(p, order[j]);
          probs[p * k2 + j] = s.prob(p, order[j]);
        } else {
          dropped += s.prob(p, order[j]);
        }
      }
      tail[p] = (float) Math.min(1.0, s.tail(p) + dropped);
    }
    return new SoftLabels(s.positions(), k2, ids, probs, tail);
  }

  /** Applies a variant to labels stored at temperature {@code tOld}. */
  public static SoftLabels derive(SoftLabels s, double tOld, Variant v) {
    SoftLabels out = v.temperature() == null ? s : retemper(s, tOld, v.temperature());
    return v.k() == null ? out : truncate(out, v.k());
  }

  /**
   * Entropy (nats) of position {@code p} with the tail spread uniformly over the {@code V - k} ids
   * outside the top-k, the same convention as {@link #klSum}: {@code -sum_j q_j ln q_j - tail
   * ln(tail / (V - k))}. Used for {@code meanEntropy} after a temperature change, where the
   * source's value (the teacher's full-vocabulary entropy at the old T) would be stale; it is an
   * estimate, exact only when the tail really is uniform.
   */
  public static double entropyEstimate(SoftLabels s, int p, int vocab) {
    double h = 0;
    for (int j = 0; j < s.k(); j++) {
      double q = s.prob(p, j);
      if (q > 0) {
        h -= q * Math.log(q);
      }
    }
    double tail = s.tail(p);
    if (tail > 0) {
      h -= tail * Math.log(tail / Math.max(1, vocab - s.k()));
    }
    return h;
  }

  /** Sum over positions of {@code KL(source || derived)} (nats), as documented on the class. */
  public static double klSum(SoftLabels src, SoftLabels der, int vocab) {
    double total = 0;
    int ks = src.k();
    int kd = der.k();
    double outsideDer = Math.max(1, vocab - kd);
    for (int p = 0; p < src.positions(); p++) {
      double kl = 0;
      for (int j = 0; j < ks; j++) {
        double pj = src.prob(p, j);
        if (pj <= 0) {
          continue;
        }
        int id = src.id(p, j);
        double qj = der.tail(p) / outsideDer;
        for (int i = 0; i < kd; i++) {
          if (der.id(p, i) == id) {
            qj = der.prob(p, i);
            break;
          }
        }
        kl += pj * Math.log(pj / Math.max(qj, 1e-30));
      }
      double pt = src.tail(p);
      if (pt > 0) {
        double qt = der.tail(p) * Math.max(0, vocab - ks) / outsideDer;
        kl += pt * Math.log(pt / Math.max(qt, 1e-30));
      }
      total += Math.max(0, kl);
    }
    return total;
  }

  /**
   * One sampled set: {@code samples} ids per position drawn from each top-k + tail record ({@link
   * TopKTailSampling}), written with codec v2 ({@value SampledSoftLabelCodec#NAME}).
   *
   * @param samples N, draws per position (with replacement)
   * @param seed the seed of the draws (with the record's id and the position)
   */
  public record Sampling(int samples, long seed) implements java.io.Serializable {
    public Sampling {
      if (samples < 1) {
        throw new IllegalArgumentException("sampled:N wants N >= 1, got " + samples);
      }
    }

    /** Parses {@code sampled:N}. */
    public static Sampling parse(String spec, long seed) {
      String[] kv = spec.trim().split(":", 2);
      if (kv.length != 2 || !kv[0].trim().equalsIgnoreCase("sampled")) {
        throw new IllegalArgumentException("--to wants sampled:N, got " + spec);
      }
      try {
        return new Sampling(Integer.parseInt(kv[1].trim()), seed);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("--to wants sampled:N with a number N, got " + spec);
      }
    }

    /** Folder name of the sampled set, e.g. {@code sampled12-seed0}. */
    public String name() {
      return "sampled" + samples + "-seed" + seed;
    }
  }

  /**
   * Sum over positions of {@code KL(sampled || r)} (nats), r the record's distribution with its
   * tail uniform ({@link TopKTailSampling#expected}): the noise of N draws (it shrinks as N grows;
   * the bias, {@code KL(r || E[sampled])}, is 0 by construction).
   */
  public static double sampledKlSum(SoftLabels src, SampledSoftLabelCodec.Sampled der, int vocab) {
    int k = src.k();
    double tailShare = Math.max(1, vocab - k);
    double total = 0;
    for (int p = 0; p < der.positions(); p++) {
      double z = vocab > k ? src.tail(p) : 0;
      for (int j = 0; j < k; j++) {
        z += src.prob(p, j);
      }
      double kl = 0;
      for (int j = der.offsets()[p]; j < der.offsets()[p + 1]; j++) {
        double q = (double) der.counts()[j] / der.samples();
        double r = src.tail(p) / tailShare;
        for (int i = 0; i < k; i++) {
          if (src.id(p, i) == der.ids()[j]) {
            r = src.prob(p, i);
            break;
          }
        }
        kl += q * Math.log(q / Math.max(r / z, 1e-30));
      }
      total += Math.max(0, kl);
    }
    return total;
  }

  /**
   * Curated-layout rows in (columns {@code softLabels}, {@code temperature}, {@code topK}, {@code
   * vocabSize}, {@code meanTopkMass}, ...), the derived rows out with the same columns (soft
   * labels, temperature, topK and meanTopkMass replaced; meanEntropy re-estimated ({@link
   * #entropyEstimate}) when the temperature changes) plus {@value #KL} (sum over the row's
   * positions) and {@value #POSITIONS}.
   */
  public static Dataset<Row> derive(Dataset<Row> curated, Variant v) {
    return Columns.map(curated, (c, r) -> derivedRow(c, r, v));
  }

  private static Row derivedRow(Columns c, Row r, Variant v) {
    float tOld = r.getFloat(c.temperature);
    SoftLabels src = c.topKTail(r);
    SoftLabels der = derive(src, tOld, v);
    Object[] values = c.copy(r);
    values[c.labels] = SoftLabelCodec.encode(der);
    if (v.temperature() != null) {
      values[c.temperature] = v.temperature().floatValue();
    }
    values[c.topK] = der.k();
    double mass = 0;
    for (int p = 0; p < der.positions(); p++) {
      mass += 1 - der.tail(p);
    }
    c.setTopkMass(values, r, mass, der.positions());
    if (v.temperature() != null && v.temperature().floatValue() != tOld && der.positions() > 0) {
      double h = 0;
      for (int p = 0; p < der.positions(); p++) {
        h += entropyEstimate(der, p, r.getInt(c.vocab));
      }
      values[c.entropy] = (float) (h / der.positions());
    }
    return c.withKl(values, klSum(src, der, r.getInt(c.vocab)), src.positions());
  }

  /**
   * Curated top-k + tail rows in, sampled rows out ({@link TopKTailSampling}, seeded by the row's
   * {@code exampleId}): soft labels in codec v2, {@code codec} / {@code codecVersion} {@value
   * SampledSoftLabelCodec#NAME} / 2, {@code topK} = N (as {@code distill label --labels sampled:N}
   * writes), {@code meanTopkMass} = the record's mass on the ids drawn (as the sampled labeller
   * reports it), temperature and entropy kept; plus {@value #KL} ({@link #sampledKlSum}) and
   * {@value #POSITIONS}.
   */
  public static Dataset<Row> sample(Dataset<Row> curated, Sampling s) {
    return Columns.map(curated, (c, r) -> sampledRow(c, r, s));
  }

  private static Row sampledRow(Columns c, Row r, Sampling s) {
    SoftLabels src = c.topKTail(r);
    int v = r.getInt(c.vocab);
    long key = TopKTailSampling.recordKey(r.getString(c.exampleId));
    SampledSoftLabelCodec.Sampled der = TopKTailSampling.sample(src, v, s.samples(), s.seed(), key);
    Object[] values = c.copy(r);
    values[c.labels] = SampledSoftLabelCodec.encode(der);
    values[c.codec] = SampledSoftLabelCodec.NAME;
    values[c.codecVersion] = SampledSoftLabelCodec.VERSION;
    values[c.topK] = s.samples();
    double mass = 0;
    for (int p = 0; p < der.positions(); p++) {
      double[] expected = TopKTailSampling.expected(src, p, v);
      for (int j = der.offsets()[p]; j < der.offsets()[p + 1]; j++) {
        mass += expected[der.ids()[j]];
      }
    }
    c.setTopkMass(values, r, mass, der.positions());
    return c.withKl(values, sampledKlSum(src, der, v), src.positions());
  }

  /** The curated columns one derivation reads and the output layout ({@value #KL} added). */
  private static final class Columns implements java.io.Serializable {
    final StructType out;
    final int width;
    final int labels;
    final int temperature;
    final int topK;
    final int vocab;
    final int topkMass;
    final int entropy;
    final int codec;
    final int codecVersion;
    final int exampleId;

    Columns(StructType in) {
      this.out =
          in.add(KL, DataTypes.DoubleType, false).add(POSITIONS, DataTypes.IntegerType, false);
      this.width = in.size();
      this.labels = in.fieldIndex("softLabels");
      this.temperature = in.fieldIndex("temperature");
      this.topK = in.fieldIndex("topK");
      this.vocab = in.fieldIndex("vocabSize");
      this.topkMass = in.fieldIndex("meanTopkMass");
      this.entropy = in.fieldIndex("meanEntropy");
      this.codec = in.fieldIndex("codec");
      this.codecVersion = in.fieldIndex("codecVersion");
      this.exampleId = in.fieldIndex("exampleId");
    }

    /** One output row from one curated row. */
    interface RowFunction extends java.io.Serializable {
      Row apply(Columns c, Row r) throws Exception;
    }

    /** The rows mapped one by one into the output layout. */
    static Dataset<Row> map(Dataset<Row> curated, RowFunction f) {
      Columns c = new Columns(curated.schema());
      return curated.map((MapFunction<Row, Row>) r -> f.apply(c, r), Encoders.row(c.out));
    }

    /** meanTopkMass = mass / positions, kept from the source row when there are no positions. */
    void setTopkMass(Object[] values, Row r, double mass, int positions) {
      values[topkMass] = positions == 0 ? r.get(topkMass) : (float) (mass / positions);
    }

    /** The row's labels, refused (naming the example) unless they are top-k + tail (v1). */
    SoftLabels topKTail(Row r) {
      int version = r.getInt(codecVersion);
      if (version != SoftLabelCodec.VERSION) {
        throw new IllegalArgumentException(
            "example "
                + r.get(exampleId)
                + " has soft-label codec version "
                + version
                + ": RelabelJob derives only from top-k + tail labels ("
                + SoftLabelCodec.NAME
                + " v"
                + SoftLabelCodec.VERSION
                + "); sampled labels cannot be re-tempered, truncated or re-sampled");
      }
      return SoftLabelCodec.decode((byte[]) r.get(labels));
    }

    Object[] copy(Row r) {
      Object[] values = new Object[width + 2];
      for (int i = 0; i < width; i++) {
        values[i] = r.get(i);
      }
      return values;
    }

    Row withKl(Object[] values, double kl, int positions) {
      values[width] = kl;
      values[width + 1] = positions;
      return RowFactory.create(values);
    }
  }
}
