package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;

import dev.distill.schemas.codec.SoftLabelEncodings;
import dev.distill.schemas.codec.SoftLabels;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.FlatMapGroupsFunction;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Reassembles chunked records: rows with {@code chunk_count > 1} that share a {@code record_id}
 * become one example, chunk 0's columns with the tokens and soft labels of every chunk in order.
 *
 * <h2>Chunk convention</h2>
 *
 * A record of tokens {@code t[0..L]} is cut at boundaries {@code 0 = s_0 < s_1 < ... < s_n = L}.
 * Chunk i holds tokens {@code t[s_i .. s_{i+1}]} (both ends included) and the soft labels of
 * positions {@code s_i .. s_{i+1} - 1} (position p predicts token p + 1), so {@code positions =
 * tokens - 1} holds for every chunk as for a whole record, and consecutive chunks share one
 * boundary token: the last token of chunk i equals the first token of chunk i + 1. Reassembly keeps
 * chunk 0's tokens and appends each next chunk's tokens without its first, and concatenates the
 * soft labels (decoded, joined, re-encoded with the same codec). Summary statistics are
 * position-weighted means of the chunks'.
 *
 * <h2>Rejections ({@value #CHUNK_REJECT})</h2>
 *
 * <ul>
 *   <li>{@value #INCOMPLETE_CHUNKS}: a chunk index of 0..n-1 is missing (lost, or rejected by
 *       validation), or the chunks disagree on n;
 *   <li>{@value #CHUNK_MISMATCH}: boundary tokens differ, or the chunks' k differ.
 * </ul>
 *
 * A rejected record is one output row (chunk 0's, or the first chunk present) whose {@value
 * #CHUNK_ROWS} is the number of input rows it stands for. A chunk delivered twice (same index) is
 * used once; the copy is counted in {@value #CHUNK_ROWS}. Rows with {@code chunk_count <= 1} pass
 * unchanged with {@value #CHUNK_ROWS} = 1.
 */
public final class ChunkReassembly {
  public static final String CHUNK_REJECT = "chunk_reject";
  public static final String CHUNK_ROWS = "chunk_rows";
  public static final String INCOMPLETE_CHUNKS = "INCOMPLETE_CHUNKS";
  public static final String CHUNK_MISMATCH = "CHUNK_MISMATCH";

  /** The output layout: raw columns plus the two chunk columns. */
  public static final StructType OUT =
      RawColumns.SCHEMA
          .add(CHUNK_REJECT, DataTypes.StringType, true)
          .add(CHUNK_ROWS, DataTypes.IntegerType, false);

  private ChunkReassembly() {}

  /** Raw-layout rows in; raw-layout rows plus {@value #CHUNK_REJECT} and {@value #CHUNK_ROWS}. */
  public static Dataset<Row> reassemble(Dataset<Row> raw) {
    Dataset<Row> rows = RawColumns.normalize(raw);
    Dataset<Row> single =
        rows.where(col(RawColumns.CHUNK_COUNT).leq(1))
            .withColumn(CHUNK_REJECT, lit(null).cast("string"))
            .withColumn(CHUNK_ROWS, lit(1));
    Dataset<Row> multi =
        rows.where(col(RawColumns.CHUNK_COUNT).gt(1))
            .groupByKey((MapFunction<Row, String>) r -> r.getString(0), Encoders.STRING())
            .flatMapGroups(
                (FlatMapGroupsFunction<String, Row, Row>) (id, it) -> List.of(merge(it)).iterator(),
                Encoders.row(OUT));
    return single.unionByName(multi);
  }

  /** The rows that form examples, without the two chunk columns. */
  public static Dataset<Row> examples(Dataset<Row> reassembled) {
    return reassembled.where(col(CHUNK_REJECT).isNull()).drop(CHUNK_REJECT, CHUNK_ROWS);
  }

  private static int idx(String name) {
    return RawColumns.SCHEMA.fieldIndex(name);
  }

  private static Comparator<Row> order() {
    Comparator<Row> byIndex = Comparator.comparingInt(r -> r.getInt(idx(RawColumns.CHUNK_INDEX)));
    return byIndex
        .thenComparing(
            r ->
                r.isNullAt(idx(RawColumns.KAFKA_PARTITION))
                    ? Integer.MAX_VALUE
                    : r.getInt(idx(RawColumns.KAFKA_PARTITION)))
        .thenComparing(
            r ->
                r.isNullAt(idx(RawColumns.KAFKA_OFFSET))
                    ? Long.MAX_VALUE
                    : r.getLong(idx(RawColumns.KAFKA_OFFSET)))
        // Rows that carry their input position after the raw columns (CurateJob's locator):
        // copies of one chunk without Kafka coordinates are used in the same order every time.
        .thenComparing(r -> r.size() > RawColumns.SCHEMA.size() ? r.getLong(LOCATOR_AT) : 0L);
  }

  /** Where {@link #merge} finds a row's locator (a long), when the row has one. */
  static final int LOCATOR_AT = RawColumns.SCHEMA.size();

  /**
   * Merges the rows of one record id (all with chunk_count > 1): rows in the raw layout, optionally
   * followed by a long locator that breaks ties between copies of one chunk; out: {@link #OUT}.
   */
  public static Row mergeRows(Iterator<Row> it) {
    return merge(it);
  }

  /** Merges the rows of one record id (all with chunk_count > 1). */
  static Row merge(Iterator<Row> it) {
    List<Row> all = new ArrayList<>();
    it.forEachRemaining(all::add);
    all.sort(order());
    int total = all.size();
    int n = all.get(0).getInt(idx(RawColumns.CHUNK_COUNT));
    List<Row> chunks = new ArrayList<>();
    boolean consistent = true;
    for (Row r : all) {
      if (r.getInt(idx(RawColumns.CHUNK_COUNT)) != n) {
        consistent = false;
      }
      int ci = r.getInt(idx(RawColumns.CHUNK_INDEX));
      if (!chunks.isEmpty()
          && chunks.get(chunks.size() - 1).getInt(idx(RawColumns.CHUNK_INDEX)) == ci) {
        continue; // a redelivered copy of the same chunk
      }
      chunks.add(r);
    }
    boolean complete = consistent && chunks.size() == n;
    for (int i = 0; complete && i < n; i++) {
      complete = chunks.get(i).getInt(idx(RawColumns.CHUNK_INDEX)) == i;
    }
    if (!complete) {
      return rejected(all.get(0), INCOMPLETE_CHUNKS, total);
    }
    List<Integer> tokens = new ArrayList<>();
    List<SoftLabels> labels = new ArrayList<>();
    double[] weighted = new double[4];
    int positions = 0;
    String[] stats = {
      RawColumns.MEAN_ENTROPY,
      RawColumns.MEAN_TOP1_MARGIN,
      RawColumns.MEAN_TOPK_MASS,
      RawColumns.LABEL_OUTSIDE_TOPK_RATE
    };
    for (int i = 0; i < n; i++) {
      Row c = chunks.get(i);
      List<Object> t = c.getList(idx(RawColumns.TOKENS));
      if (i > 0) {
        if (t.isEmpty() || !t.get(0).equals(tokens.get(tokens.size() - 1))) {
          return rejected(chunks.get(0), CHUNK_MISMATCH, total);
        }
        t = t.subList(1, t.size());
      }
      for (Object o : t) {
        tokens.add((Integer) o);
      }
      SoftLabels l = SoftLabelEncodings.decode((byte[]) c.get(idx(RawColumns.SOFT_LABELS)));
      if (!labels.isEmpty() && l.k() != labels.get(0).k()) {
        return rejected(chunks.get(0), CHUNK_MISMATCH, total);
      }
      labels.add(l);
      int p = c.getInt(idx(RawColumns.POSITIONS));
      positions += p;
      for (int s = 0; s < stats.length; s++) {
        weighted[s] += p * (double) c.getFloat(idx(stats[s]));
      }
    }
    Object[] v = values(chunks.get(0));
    v[idx(RawColumns.CHUNK_INDEX)] = 0;
    v[idx(RawColumns.CHUNK_COUNT)] = 1;
    v[idx(RawColumns.TOKENS)] = CollectionConverters.asScala(tokens).toSeq();
    v[idx(RawColumns.SOFT_LABELS)] = SoftLabelEncodings.encode(concat(labels));
    v[idx(RawColumns.POSITIONS)] = positions;
    for (int s = 0; s < stats.length; s++) {
      v[idx(stats[s])] = positions == 0 ? 0f : (float) (weighted[s] / positions);
    }
    v[OUT.size() - 2] = null;
    v[OUT.size() - 1] = total;
    return RowFactory.create(v);
  }

  /** Soft labels of consecutive chunks, joined position by position. */
  public static SoftLabels concat(List<SoftLabels> parts) {
    int k = parts.get(0).k();
    int positions = parts.stream().mapToInt(SoftLabels::positions).sum();
    int[] ids = new int[positions * k];
    float[] probs = new float[positions * k];
    float[] tail = new float[positions];
    int at = 0;
    for (SoftLabels s : parts) {
      System.arraycopy(s.ids(), 0, ids, at * k, s.positions() * k);
      System.arraycopy(s.probs(), 0, probs, at * k, s.positions() * k);
      System.arraycopy(s.tails(), 0, tail, at, s.positions());
      at += s.positions();
    }
    return new SoftLabels(positions, k, ids, probs, tail, parts.get(0).sampled());
  }

  private static Object[] values(Row r) {
    Object[] v = new Object[OUT.size()];
    for (int i = 0; i < RawColumns.SCHEMA.size(); i++) {
      v[i] = r.get(i);
    }
    return v;
  }

  private static Row rejected(Row first, String reason, int rows) {
    Object[] v = values(first);
    v[OUT.size() - 2] = reason;
    v[OUT.size() - 1] = rows;
    return RowFactory.create(v);
  }
}
