package dev.distill.spark;

import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.spark.transforms.KafkaRecordDecoding;
import dev.distill.spark.transforms.RawColumns;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;

/** Valid teacher records for tests: vocab 1000, k 2; the token sequence is unique per seed. */
public final class TestRecords {
  public static final int VOCAB = 1000;
  public static final int POSITIONS = 4;

  private TestRecords() {}

  /** A valid record; tokens start with (seed % 1000, seed / 1000 % 1000). */
  public static TeacherOutput record(String id, int seed) {
    List<Integer> tokens = new ArrayList<>();
    tokens.add(seed % VOCAB);
    tokens.add(seed / VOCAB % VOCAB);
    while (tokens.size() < POSITIONS + 1) {
      tokens.add(tokens.size());
    }
    return record(id, tokens);
  }

  public static TeacherOutput record(String id, List<Integer> tokens) {
    int positions = tokens.size() - 1;
    int k = 2;
    return dev.distill.schemas.TestRecords.builder(
            id, tokens, dev.distill.schemas.TestRecords.twoIds(positions, Integer.MAX_VALUE), 1.5f)
        .setPromptId("p-" + id)
        .setRunId("run-1")
        .setSource("test/train")
        .setProvenance(
            dev.distill.schemas.TestRecords.provenance(
                "teacher-a", "aa11", "char", "cc22", VOCAB, k))
        .setCreatedAtMs(1_700_000_000_000L)
        .build();
  }

  /** The raw row of a record (no Kafka coordinates). */
  public static Row rawRow(TeacherOutput r) {
    return RowFactory.create(KafkaRecordDecoding.rawValues(r, null, null));
  }

  public static Dataset<Row> raw(SparkSession spark, List<TeacherOutput> records) {
    List<Row> rows = new ArrayList<>();
    for (TeacherOutput r : records) {
      rows.add(rawRow(r));
    }
    return spark.createDataFrame(rows, RawColumns.SCHEMA);
  }
}
