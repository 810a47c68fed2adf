package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.expr;
import static org.apache.spark.sql.functions.row_number;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.expressions.WindowSpec;

/**
 * Drops exact duplicates by content: rows whose token sequences are equal (SHA-256 of the ids) keep
 * one survivor, the smallest {@code record_id} (ties broken by chunk, Kafka coordinates, then
 * bytes, so the choice is deterministic). This also removes a record delivered twice by Kafka.
 */
public final class Deduplication {
  public static final String CONTENT_HASH = "content_hash";

  private Deduplication() {}

  /** SHA-256 (hex) of the token ids joined by commas. */
  public static Dataset<Row> withContentHash(Dataset<Row> rows) {
    return rows.withColumn(
        CONTENT_HASH,
        expr("sha2(array_join(transform(tokens, t -> cast(t as string)), ','), 256)"));
  }

  /** One row per distinct token sequence; same columns as the input. */
  public static Dataset<Row> dropDuplicateTokens(Dataset<Row> rows) {
    WindowSpec byContent =
        Window.partitionBy(CONTENT_HASH)
            .orderBy(
                col(RawColumns.RECORD_ID).asc_nulls_last(),
                col(RawColumns.CHUNK_INDEX).asc_nulls_last(),
                col(RawColumns.KAFKA_PARTITION).asc_nulls_last(),
                col(RawColumns.KAFKA_OFFSET).asc_nulls_last(),
                col(RawColumns.SOFT_LABELS).asc_nulls_last());
    return withContentHash(rows)
        .withColumn("_dedupe_rank", row_number().over(byContent))
        .where(col("_dedupe_rank").equalTo(1))
        .drop("_dedupe_rank", CONTENT_HASH);
  }
}
