package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * The raw layout: one flat row per teacher record (or chunk), as IngestJob writes it and CurateJob
 * reads it. Snake-case column names; provenance and label statistics flattened so Spark can filter
 * on them without decoding anything.
 */
public final class RawColumns {
  public static final String RECORD_ID = "record_id";
  public static final String PROMPT_ID = "prompt_id";
  public static final String RUN_ID = "run_id";
  public static final String SOURCE = "source";
  public static final String CHUNK_INDEX = "chunk_index";
  public static final String CHUNK_COUNT = "chunk_count";
  public static final String TOKENS = "tokens";
  public static final String SOFT_LABELS = "soft_labels";
  public static final String POSITIONS = "positions";
  public static final String MEAN_ENTROPY = "mean_entropy";
  public static final String MEAN_TOP1_MARGIN = "mean_top1_margin";
  public static final String MEAN_TOPK_MASS = "mean_topk_mass";
  public static final String LABEL_OUTSIDE_TOPK_RATE = "label_outside_topk_rate";
  public static final String TEACHER_ID = "teacher_id";
  public static final String TEACHER_SHA256 = "teacher_sha256";
  public static final String TOKENIZER_ID = "tokenizer_id";
  public static final String TOKENIZER_SHA256 = "tokenizer_sha256";
  public static final String VOCAB_SIZE = "vocab_size";
  public static final String TEMPERATURE = "temperature";
  public static final String TOP_K = "top_k";
  public static final String CODEC = "codec";
  public static final String CODEC_VERSION = "codec_version";
  public static final String SCHEMA_VERSION = "schema_version";
  public static final String CREATED_AT_MS = "created_at_ms";
  public static final String KAFKA_PARTITION = "kafka_partition";
  public static final String KAFKA_OFFSET = "kafka_offset";

  /** The raw Parquet schema, in column order. */
  public static final StructType SCHEMA =
      new StructType(
          new StructField[] {
            field(RECORD_ID, DataTypes.StringType),
            field(PROMPT_ID, DataTypes.StringType),
            field(RUN_ID, DataTypes.StringType),
            field(SOURCE, DataTypes.StringType),
            field(CHUNK_INDEX, DataTypes.IntegerType),
            field(CHUNK_COUNT, DataTypes.IntegerType),
            field(TOKENS, DataTypes.createArrayType(DataTypes.IntegerType, true)),
            field(SOFT_LABELS, DataTypes.BinaryType),
            field(POSITIONS, DataTypes.IntegerType),
            field(MEAN_ENTROPY, DataTypes.FloatType),
            field(MEAN_TOP1_MARGIN, DataTypes.FloatType),
            field(MEAN_TOPK_MASS, DataTypes.FloatType),
            field(LABEL_OUTSIDE_TOPK_RATE, DataTypes.FloatType),
            field(TEACHER_ID, DataTypes.StringType),
            field(TEACHER_SHA256, DataTypes.StringType),
            field(TOKENIZER_ID, DataTypes.StringType),
            field(TOKENIZER_SHA256, DataTypes.StringType),
            field(VOCAB_SIZE, DataTypes.IntegerType),
            field(TEMPERATURE, DataTypes.FloatType),
            field(TOP_K, DataTypes.IntegerType),
            field(CODEC, DataTypes.StringType),
            field(CODEC_VERSION, DataTypes.IntegerType),
            field(SCHEMA_VERSION, DataTypes.IntegerType),
            field(CREATED_AT_MS, DataTypes.LongType),
            field(KAFKA_PARTITION, DataTypes.IntegerType),
            field(KAFKA_OFFSET, DataTypes.LongType),
          });

  /** Columns that may be null: the Kafka coordinates (absent when records came in batch mode). */
  public static final Set<String> OPTIONAL = Set.of(KAFKA_PARTITION, KAFKA_OFFSET);

  private RawColumns() {}

  private static StructField field(String name, DataType type) {
    return DataTypes.createStructField(name, type, true);
  }

  /** Column names of {@link #SCHEMA}, in order. */
  public static List<String> names() {
    return Arrays.asList(SCHEMA.fieldNames());
  }

  /**
   * Brings a raw input to the raw layout: either the flat layout itself (columns cast to the raw
   * types) or the nested Avro {@code TeacherOutput} layout that teacher-service's batch Parquet
   * sink writes (flattened, Kafka coordinates null).
   *
   * @throws IllegalArgumentException naming the missing columns when the input is neither
   */
  public static Dataset<Row> normalize(Dataset<Row> input) {
    return normalize(input, new String[0]);
  }

  /** {@link #normalize(Dataset)}, keeping the columns {@code extra} after the raw ones. */
  public static Dataset<Row> normalize(Dataset<Row> input, String... extra) {
    Set<String> have = new TreeSet<>(Arrays.asList(input.columns()));
    if (have.contains("recordId") && have.contains("provenance")) {
      return fromAvroLayout(input, extra);
    }
    Set<String> missing = new TreeSet<>();
    for (String name : names()) {
      if (!have.contains(name) && !OPTIONAL.contains(name)) {
        missing.add(name);
      }
    }
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException(
          "input is not in the raw layout: missing columns " + missing + "; it has " + have);
    }
    List<Column> cols = new ArrayList<>();
    for (StructField f : SCHEMA.fields()) {
      Column c = have.contains(f.name()) ? col(f.name()) : lit(null);
      cols.add(c.cast(f.dataType()).as(f.name()));
    }
    for (String e : extra) {
      cols.add(col(e));
    }
    return input.select(cols.toArray(new Column[0]));
  }

  private static Dataset<Row> fromAvroLayout(Dataset<Row> input, String... extra) {
    String[][] map = {
      {RECORD_ID, "recordId"},
      {PROMPT_ID, "promptId"},
      {RUN_ID, "runId"},
      {SOURCE, "source"},
      {CHUNK_INDEX, "chunkIndex"},
      {CHUNK_COUNT, "chunkCount"},
      {TOKENS, "tokens"},
      {SOFT_LABELS, "softLabels"},
      {POSITIONS, "stats.positions"},
      {MEAN_ENTROPY, "stats.meanEntropy"},
      {MEAN_TOP1_MARGIN, "stats.meanTop1Margin"},
      {MEAN_TOPK_MASS, "stats.meanTopkMass"},
      {LABEL_OUTSIDE_TOPK_RATE, "stats.labelOutsideTopkRate"},
      {TEACHER_ID, "provenance.teacherId"},
      {TEACHER_SHA256, "provenance.teacherSha256"},
      {TOKENIZER_ID, "provenance.tokenizerId"},
      {TOKENIZER_SHA256, "provenance.tokenizerSha256"},
      {VOCAB_SIZE, "provenance.vocabSize"},
      {TEMPERATURE, "provenance.temperature"},
      {TOP_K, "provenance.topK"},
      {CODEC, "provenance.codec"},
      {CODEC_VERSION, "provenance.codecVersion"},
      {SCHEMA_VERSION, "provenance.schemaVersion"},
      {CREATED_AT_MS, "createdAtMs"},
    };
    List<Column> cols = new ArrayList<>();
    for (String[] m : map) {
      cols.add(col(m[1]).cast(SCHEMA.apply(m[0]).dataType()).as(m[0]));
    }
    cols.add(lit(null).cast(DataTypes.IntegerType).as(KAFKA_PARTITION));
    cols.add(lit(null).cast(DataTypes.LongType).as(KAFKA_OFFSET));
    for (String e : extra) {
      cols.add(col(e));
    }
    return input.select(cols.toArray(new Column[0]));
  }
}
