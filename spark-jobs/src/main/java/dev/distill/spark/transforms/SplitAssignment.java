package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.conv;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sha2;
import static org.apache.spark.sql.functions.substring;
import static org.apache.spark.sql.functions.when;

import org.apache.commons.codec.digest.DigestUtils;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * Deterministic train/val split by record id: the hash fraction of an id is the first 52 bits of
 * SHA-256(UTF-8 id) divided by 2^52, a number in [0, 1) that any language can recompute; a row is
 * {@value #VAL} when its fraction is below the val fraction, else {@value #TRAIN}. All chunks of
 * one record land in the same split.
 */
public final class SplitAssignment {
  public static final String SPLIT = "split";
  public static final String TRAIN = "train";
  public static final String VAL = "val";
  private static final double TWO_POW_52 = 4503599627370496.0;

  private SplitAssignment() {}

  /** Adds the {@value #SPLIT} column. */
  public static Dataset<Row> assign(Dataset<Row> rows, double valFraction) {
    if (!(valFraction >= 0.0 && valFraction <= 1.0)) {
      throw new IllegalArgumentException("valFraction must be in [0, 1], got " + valFraction);
    }
    return rows.withColumn(
        SPLIT,
        when(hashFraction(col(RawColumns.RECORD_ID)).lt(lit(valFraction)), lit(VAL))
            .otherwise(lit(TRAIN)));
  }

  /** Rows per split. */
  public record Counts(long train, long val) {}

  /** Counts the rows of each split (one aggregation). */
  public static Counts count(Dataset<Row> withSplit) {
    long train = 0;
    long val = 0;
    for (Row r : withSplit.groupBy(SPLIT).count().collectAsList()) {
      if (VAL.equals(r.getString(0))) {
        val = r.getLong(1);
      } else {
        train = r.getLong(1);
      }
    }
    return new Counts(train, val);
  }

  /** The hash fraction of a string column, as a Spark expression. */
  public static Column hashFraction(Column id) {
    return conv(substring(sha2(id, 256), 1, 13), 16, 10).cast("double").divide(lit(TWO_POW_52));
  }

  /** The same hash fraction computed in plain Java. */
  public static double hashFraction(String id) {
    byte[] d = DigestUtils.sha256(id); // of its UTF-8 bytes
    long top = 0;
    for (int i = 0; i < 7; i++) {
      top = (top << 8) | (d[i] & 0xFF);
    }
    return (top >>> 4) / TWO_POW_52;
  }
}
