package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.avg;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.exp;
import static org.apache.spark.sql.functions.greatest;
import static org.apache.spark.sql.functions.least;
import static org.apache.spark.sql.functions.lit;

import java.util.Locale;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * Per-example training weights, written to the curated {@value #WEIGHT} column (the student trainer
 * multiplies each example's loss by it).
 *
 * <ul>
 *   <li>{@code uniform} (default): 1.0.
 *   <li>{@code entropy}: {@code w = exp(-mean_entropy / tau)}, divided by its mean over the rows so
 *       the mean weight stays 1 (the loss scale does not change), then clipped to [min, max]. A
 *       positive tau favours examples the teacher is confident on; a negative tau favours the
 *       uncertain ones (more "dark knowledge" per token).
 * </ul>
 */
public final class ExampleWeights {
  public static final String WEIGHT = "weight";

  public enum Scheme {
    UNIFORM,
    ENTROPY;

    public static Scheme parse(String s) {
      try {
        return valueOf(s.trim().toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("weight scheme must be uniform or entropy, got " + s);
      }
    }
  }

  /**
   * @param scheme how weights are computed
   * @param tau entropy scale in nats (non-zero)
   * @param min smallest weight after normalisation
   * @param max largest weight after normalisation
   */
  public record Params(Scheme scheme, double tau, double min, double max)
      implements java.io.Serializable {
    public static final Params UNIFORM = new Params(Scheme.UNIFORM, 1.0, 0.0, 1.0e9);

    public Params {
      if (scheme == null) {
        throw new IllegalArgumentException("weight scheme must be set");
      }
      if (!(Double.isFinite(tau) && tau != 0)) {
        throw new IllegalArgumentException("weight tau must be finite and non-zero, got " + tau);
      }
      if (!(min >= 0 && max >= min)) {
        throw new IllegalArgumentException("weight bounds need 0 <= min <= max");
      }
    }

    public static Params entropy(double tau) {
      return new Params(Scheme.ENTROPY, tau, 0.1, 10.0);
    }
  }

  private ExampleWeights() {}

  /** The entropy scheme's weight before normalisation, {@code exp(-mean_entropy / tau)}. */
  public static Column unnormalized(Params p) {
    return exp(col(RawColumns.MEAN_ENTROPY).cast("double").divide(lit(-p.tau())));
  }

  /**
   * Adds (or replaces) {@value #WEIGHT} given the mean of {@link #unnormalized} over the rows
   * (computed elsewhere, e.g. on narrow rows); no Spark job.
   */
  public static Dataset<Row> assign(Dataset<Row> rows, Params p, double mean) {
    if (p.scheme() == Scheme.UNIFORM) {
      return rows.withColumn(WEIGHT, lit(1.0f));
    }
    double m = mean > 0 && Double.isFinite(mean) ? mean : 1.0;
    return rows.withColumn(
        WEIGHT,
        least(lit(p.max()), greatest(lit(p.min()), unnormalized(p).divide(lit(m)))).cast("float"));
  }

  /** Adds (or replaces) {@value #WEIGHT} as a float; the entropy scheme runs one aggregation. */
  public static Dataset<Row> assign(Dataset<Row> rows, Params p) {
    if (p.scheme() == Scheme.UNIFORM) {
      return rows.withColumn(WEIGHT, lit(1.0f));
    }
    Column raw = exp(col(RawColumns.MEAN_ENTROPY).cast("double").divide(lit(-p.tau())));
    Row mean = rows.agg(avg(raw)).first();
    double m = mean.isNullAt(0) ? 1.0 : mean.getDouble(0);
    if (!(m > 0 && Double.isFinite(m))) {
      m = 1.0;
    }
    return rows.withColumn(
        WEIGHT, least(lit(p.max()), greatest(lit(p.min()), raw.divide(lit(m)))).cast("float"));
  }
}
