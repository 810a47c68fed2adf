package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.when;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Logit-aware filters on the per-record summary columns, without decoding soft labels: each filter
 * is a lower or upper bound on one column, either a value ({@code mean_entropy<=3.5}) or a quantile
 * of the column over the rows being filtered ({@code mean_entropy<=q0.99}: drop the top 1%),
 * computed exactly over the narrow summary values ({@link #quantilesOf}).
 *
 * <p>Every row gets {@value #DECISION}: the spec of the first filter it fails (in the order given),
 * or null when it passes all of them, so each decision is counted once under its own name.
 */
public final class LogitFilters {
  public static final String DECISION = "filter_decision";

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
   * Exact quantiles of every summary column: column to (quantile to value), for {@link
   * #REPORTED_QUANTILES} plus {@code extra}. Empty input gives an empty map. One Spark job ({@link
   * #summaryBlocks}, then {@link #quantilesOf}).
   */
  public static Map<String, Map<Double, Double>> quantiles(Dataset<Row> rows, double... extra) {
    return quantilesOf(summaryBlocks(rows, lit(true)).collectAsList(), probabilities(extra));
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

  /** One row per partition: the summary columns' values, packed ({@link #quantilesOf}). */
  public static final StructType BLOCK =
      new StructType().add("_summary_block", DataTypes.BinaryType, false);

  /**
   * The summary columns ({@link #COLUMNS}) of the rows where {@code where} holds, packed into one
   * row per partition ({@link #BLOCK}: for each column in turn, its values as little-endian
   * float32, a null as NaN), so that a caller can collect them on a pass that runs anyway (16 bytes
   * an example on the driver).
   */
  public static Dataset<Row> summaryBlocks(Dataset<Row> rows, Column where) {
    int n = COLUMNS.size();
    return rows.where(where)
        .select(COLUMNS.stream().map(c -> col(c).cast("float").as(c)).toArray(Column[]::new))
        .mapPartitions(
            (MapPartitionsFunction<Row, Row>)
                it -> {
                  float[][] values = new float[n][1024];
                  int size = 0;
                  while (it.hasNext()) {
                    Row r = it.next();
                    if (size == values[0].length) {
                      for (int c = 0; c < n; c++) {
                        values[c] = java.util.Arrays.copyOf(values[c], size * 2);
                      }
                    }
                    for (int c = 0; c < n; c++) {
                      values[c][size] = r.isNullAt(c) ? Float.NaN : r.getFloat(c);
                    }
                    size++;
                  }
                  ByteBuffer b = ByteBuffer.allocate(4 * n * size).order(ByteOrder.LITTLE_ENDIAN);
                  for (int c = 0; c < n; c++) {
                    b.asFloatBuffer().position(c * size).put(values[c], 0, size);
                  }
                  return List.of(RowFactory.create((Object) b.array())).iterator();
                },
            Encoders.row(BLOCK));
  }

  /**
   * Exact quantiles from the collected {@link #summaryBlocks}: column to (quantile to value) for
   * {@code probabilities}; NaN left out; a column without a value is left out. The value at
   * quantile p of n sorted values is the {@code max(1, ceil(p n))}-th smallest: the definition
   * {@code percentile_approx} approximates (the smallest value such that at least p n values are at
   * or below it). Sorting every value makes the answer independent of the partitioning and of the
   * order the blocks arrive in (issue 14: {@code percentile_approx}'s partial sketches, merged in
   * task-completion order, could move the threshold between runs).
   */
  public static Map<String, Map<Double, Double>> quantilesOf(
      List<Row> blocks, double[] probabilities) {
    int n = COLUMNS.size();
    int total = 0;
    for (Row b : blocks) {
      total += ((byte[]) b.get(0)).length / (4 * n);
    }
    float[][] values = new float[n][total];
    int[] sizes = new int[n];
    for (Row block : blocks) {
      byte[] bytes = (byte[]) block.get(0);
      int size = bytes.length / (4 * n);
      java.nio.FloatBuffer f =
          ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
      for (int c = 0; c < n; c++) {
        for (int i = 0; i < size; i++) {
          float v = f.get(c * size + i);
          if (!Float.isNaN(v)) {
            values[c][sizes[c]++] = v;
          }
        }
      }
    }
    Map<String, Map<Double, Double>> out = new LinkedHashMap<>();
    for (int c = 0; c < n; c++) {
      if (sizes[c] == 0) {
        continue;
      }
      float[] sorted = java.util.Arrays.copyOf(values[c], sizes[c]);
      java.util.Arrays.sort(sorted);
      Map<Double, Double> byQ = new LinkedHashMap<>();
      for (double p : probabilities) {
        long rank = Math.max(1, (long) Math.ceil(p * sorted.length));
        byQ.put(p, (double) sorted[(int) Math.min(rank, sorted.length) - 1]);
      }
      out.put(COLUMNS.get(c), byQ);
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
