package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.array;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.isnan;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.not;
import static org.apache.spark.sql.functions.percentile_approx;
import static org.apache.spark.sql.functions.when;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;

/**
 * Logit-aware filters on the per-record summary columns, without decoding soft labels: each filter
 * is a lower or upper bound on one column, either a value ({@code mean_entropy<=3.5}) or a quantile
 * of the column over the rows being filtered ({@code mean_entropy<=q0.99}: drop the top 1%),
 * computed with {@code approxQuantile} (relative error {@value #RELATIVE_ERROR}).
 *
 * <p>Every row gets {@value #DECISION}: the spec of the first filter it fails (in the order given),
 * or null when it passes all of them, so each decision is counted once under its own name.
 */
public final class LogitFilters {
  public static final String DECISION = "filter_decision";
  public static final double RELATIVE_ERROR = 0.001;

  /** The summary columns a filter may name. */
  public static final List<String> COLUMNS =
      List.of(
          RawColumns.MEAN_ENTROPY,
          RawColumns.MEAN_TOP1_MARGIN,
          RawColumns.MEAN_TOPK_MASS,
          RawColumns.LABEL_OUTSIDE_TOPK_RATE);

  /** Quantiles reported for every summary column before filtering. */
  public static final double[] REPORTED_QUANTILES = {0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1};

  private static final Pattern SPEC =
      Pattern.compile("\\s*([a-z0-9_]+)\\s*(>=|<=)\\s*(q?)([0-9.eE+-]+)\\s*");

  /**
   * One bound.
   *
   * @param column a summary column ({@link #COLUMNS})
   * @param lower true for {@code >=} (drop rows below), false for {@code <=} (drop rows above)
   * @param value the bound, or the quantile in [0, 1] when {@code quantile}
   * @param quantile whether {@code value} is a quantile of the column
   */
  public record Filter(String column, boolean lower, double value, boolean quantile)
      implements java.io.Serializable {
    public Filter {
      if (!COLUMNS.contains(column)) {
        throw new IllegalArgumentException(
            "filter column must be one of " + COLUMNS + ", got " + column);
      }
      if (!Double.isFinite(value) || (quantile && (value < 0 || value > 1))) {
        throw new IllegalArgumentException(
            "filter bound must be finite (a quantile in [0, 1]), got " + value);
      }
    }

    /**
     * Parses {@code column>=value}, {@code column<=value}, {@code column>=qP}, {@code column<=qP}.
     */
    public static Filter parse(String spec) {
      Matcher m = SPEC.matcher(spec);
      if (!m.matches()) {
        throw new IllegalArgumentException(
            "filter wants COLUMN>=VALUE, COLUMN<=VALUE or COLUMN<=qP (e.g. mean_entropy<=q0.99),"
                + " got "
                + spec);
      }
      double v;
      try {
        v = Double.parseDouble(m.group(4));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("filter bound is not a number in " + spec);
      }
      return new Filter(m.group(1), m.group(2).equals(">="), v, !m.group(3).isEmpty());
    }

    /** The decision name: the canonical spec, e.g. {@code mean_entropy<=q0.99}. */
    public String name() {
      return column + (lower ? ">=" : "<=") + (quantile ? "q" : "") + value;
    }
  }

  /** A filter with its bound resolved to a value of the column. */
  public record Resolved(Filter filter, double threshold) implements java.io.Serializable {}

  private LogitFilters() {}

  /**
   * Approximate quantiles of every summary column: column to (quantile to value), for {@link
   * #REPORTED_QUANTILES} plus {@code extra}. Empty input gives an empty map.
   */
  public static Map<String, Map<Double, Double>> quantiles(Dataset<Row> rows, double... extra) {
    double[] p = probabilities(extra);
    double[][] values =
        rows.select(COLUMNS.stream().map(c -> col(c).cast("double").as(c)).toArray(Column[]::new))
            .stat()
            .approxQuantile(COLUMNS.toArray(new String[0]), p, RELATIVE_ERROR);
    Map<String, Map<Double, Double>> out = new LinkedHashMap<>();
    for (int c = 0; c < COLUMNS.size(); c++) {
      if (values[c].length == 0) {
        continue;
      }
      Map<Double, Double> byQ = new LinkedHashMap<>();
      for (int i = 0; i < p.length; i++) {
        byQ.put(p[i], values[c][i]);
      }
      out.put(COLUMNS.get(c), byQ);
    }
    return out;
  }

  /** {@link #REPORTED_QUANTILES} and {@code extra}: sorted, distinct. */
  public static double[] probabilities(double... extra) {
    TreeSet<Double> probs = new TreeSet<>();
    for (double q : REPORTED_QUANTILES) {
      probs.add(q);
    }
    for (double q : extra) {
      probs.add(q);
    }
    return probs.stream().mapToDouble(Double::doubleValue).toArray();
  }

  /**
   * The accuracy of {@code percentile_approx} that {@code approxQuantile} uses for a relative error
   * e: {@code min(Int.MaxValue, ceil(1 / e))} (Spark's {@code StatFunctions}).
   */
  static int accuracy() {
    return (int) Math.min(Integer.MAX_VALUE, (long) Math.ceil(1.0 / RELATIVE_ERROR));
  }

  /**
   * One aggregate per summary column ({@link #COLUMNS} order, named {@code _q_<column>}): {@code
   * percentile_approx} at {@code probabilities} of the column over the rows where {@code where}
   * holds, nulls and NaN left out, the accuracy of {@code approxQuantile} at {@value
   * #RELATIVE_ERROR}: the algorithm {@code approxQuantile} runs, as plain aggregates, so they can
   * ride on a pass that runs anyway ({@code Dataset.observe}) instead of a job of their own.
   */
  public static Column[] quantileAggregates(Column where, double[] probabilities) {
    Column probs =
        array(
            java.util.Arrays.stream(probabilities).mapToObj(functions::lit).toArray(Column[]::new));
    return COLUMNS.stream()
        .map(
            c -> {
              Column v = col(c).cast("double");
              return percentile_approx(
                      when(where.and(v.isNotNull()).and(not(isnan(v))), v), probs, lit(accuracy()))
                  .as("_q_" + c);
            })
        .toArray(Column[]::new);
  }

  /**
   * Column to (quantile to value) from the values of {@link #quantileAggregates} (null for a column
   * without a value: left out, as {@link #quantiles} leaves it out).
   */
  public static Map<String, Map<Double, Double>> quantilesFrom(
      double[] probabilities, Map<String, List<Double>> byColumn) {
    Map<String, Map<Double, Double>> out = new LinkedHashMap<>();
    for (String c : COLUMNS) {
      List<Double> values = byColumn.get(c);
      if (values == null || values.isEmpty()) {
        continue;
      }
      Map<Double, Double> byQ = new LinkedHashMap<>();
      for (int i = 0; i < probabilities.length; i++) {
        byQ.put(probabilities[i], values.get(i));
      }
      out.put(c, byQ);
    }
    return out;
  }

  /**
   * The filters' decision as a column: the name of the first failed filter, null when all pass (or
   * no filter applies).
   */
  public static Column decision(List<Resolved> filters) {
    Column decision = lit(null).cast("string");
    for (int i = filters.size() - 1; i >= 0; i--) {
      Resolved r = filters.get(i);
      if (Double.isNaN(r.threshold())) {
        continue;
      }
      Column c = col(r.filter().column()).cast("double");
      Column fails = r.filter().lower() ? c.lt(lit(r.threshold())) : c.gt(lit(r.threshold()));
      // A NaN or null summary value fails every bound on its column.
      fails = fails.or(c.isNull()).or(c.isNaN());
      decision = when(fails, lit(r.filter().name())).otherwise(decision);
    }
    return decision;
  }

  /** The quantile values that {@code filters} need, for {@link #quantiles}. */
  public static double[] quantilesNeeded(List<Filter> filters) {
    return filters.stream().filter(Filter::quantile).mapToDouble(Filter::value).toArray();
  }

  /** Resolves quantile bounds from {@code quantiles} (as {@link #quantiles} returns them). */
  public static List<Resolved> resolve(
      List<Filter> filters, Map<String, Map<Double, Double>> quantiles) {
    List<Resolved> out = new ArrayList<>();
    for (Filter f : filters) {
      if (!f.quantile()) {
        out.add(new Resolved(f, f.value()));
      } else {
        Map<Double, Double> q = quantiles.get(f.column());
        // No rows: nothing to cut; any threshold keeps the (empty) set unchanged.
        out.add(new Resolved(f, q == null ? Double.NaN : q.get(f.value())));
      }
    }
    return out;
  }

  /** Adds {@value #DECISION}: the name of the first failed filter, null when all pass. */
  public static Dataset<Row> annotate(Dataset<Row> rows, List<Resolved> filters) {
    return rows.withColumn(DECISION, decision(filters));
  }

  /** The rows that passed, without {@value #DECISION}. */
  public static Dataset<Row> passed(Dataset<Row> annotated) {
    return annotated.where(col(DECISION).isNull()).drop(DECISION);
  }

  /** Value-bound filters applied in one go (quantile bounds resolved on {@code rows}). */
  public static Dataset<Row> apply(Dataset<Row> rows, List<Filter> filters) {
    if (filters.isEmpty()) {
      return rows;
    }
    List<Resolved> resolved =
        resolve(
            filters,
            filters.stream().anyMatch(Filter::quantile)
                ? quantiles(rows, quantilesNeeded(filters))
                : Map.of());
    return passed(annotate(rows, resolved));
  }
}
