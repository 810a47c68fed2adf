package dev.distill.spark.transforms;

import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Locale;
import org.apache.spark.api.java.function.MapPartitionsFunction;
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
 * <h2>KL of a derived set from its source</h2>
 *
 * {@code KL(source || derived)} per position, on the source's k + 1 buckets (its ids and its tail).
 * A derived distribution spreads its tail uniformly over the {@code V - k'} ids outside its top-k',
 * so a dropped id gets {@code tail' / (V - k')} and the source's tail bucket {@code tail' (V - k) /
 * (V - k')}. Reported as the mean over positions, in nats.
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
   * Curated-layout rows in (columns {@code softLabels}, {@code temperature}, {@code topK}, {@code
   * vocabSize}, {@code meanTopkMass}, ...), the derived rows out with the same columns (soft
   * labels, temperature, topK and meanTopkMass replaced; meanEntropy re-estimated ({@link
   * #entropyEstimate}) when the temperature changes) plus {@value #KL} (sum over the row's
   * positions) and {@value #POSITIONS}.
   */
  public static Dataset<Row> derive(Dataset<Row> curated, Variant v) {
    StructType in = curated.schema();
    StructType out =
        in.add(KL, DataTypes.DoubleType, false).add(POSITIONS, DataTypes.IntegerType, false);
    int labels = in.fieldIndex("softLabels");
    int temperature = in.fieldIndex("temperature");
    int topK = in.fieldIndex("topK");
    int vocab = in.fieldIndex("vocabSize");
    int topkMass = in.fieldIndex("meanTopkMass");
    int entropy = in.fieldIndex("meanEntropy");
    return curated.mapPartitions(
        (MapPartitionsFunction<Row, Row>)
            it ->
                new Iterator<>() {
                  @Override
                  public boolean hasNext() {
                    return it.hasNext();
                  }

                  @Override
                  public Row next() {
                    Row r = it.next();
                    SoftLabels src = SoftLabelCodec.decode((byte[]) r.get(labels));
                    float tOld = r.getFloat(temperature);
                    SoftLabels der = derive(src, tOld, v);
                    Object[] values = new Object[out.size()];
                    for (int i = 0; i < in.size(); i++) {
                      values[i] = r.get(i);
                    }
                    values[labels] = SoftLabelCodec.encode(der);
                    if (v.temperature() != null) {
                      values[temperature] = v.temperature().floatValue();
                    }
                    values[topK] = der.k();
                    double mass = 0;
                    for (int p = 0; p < der.positions(); p++) {
                      mass += 1 - der.tail(p);
                    }
                    values[topkMass] =
                        der.positions() == 0 ? r.get(topkMass) : (float) (mass / der.positions());
                    if (v.temperature() != null
                        && v.temperature().floatValue() != tOld
                        && der.positions() > 0) {
                      double h = 0;
                      for (int p = 0; p < der.positions(); p++) {
                        h += entropyEstimate(der, p, r.getInt(vocab));
                      }
                      values[entropy] = (float) (h / der.positions());
                    }
                    values[in.size()] = klSum(src, der, r.getInt(vocab));
                    values[in.size() + 1] = src.positions();
                    return RowFactory.create(values);
                  }
                },
        Encoders.row(out));
  }
}
