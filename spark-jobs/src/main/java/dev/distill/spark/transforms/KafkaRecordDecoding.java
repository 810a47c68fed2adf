package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.col;

import dev.distill.schemas.avro.LabelStats;
import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.encoding.RecordDecodingException;
import dev.distill.schemas.encoding.SingleObjectEncoding;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Iterator;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Decodes Kafka rows ({@code value} binary, {@code partition}, {@code offset}) holding
 * single-object-encoded {@code TeacherOutput}s, with plain Avro inside {@code mapPartitions}.
 *
 * <p>{@link #decode} keeps every message: decoded ones carry the raw columns, undecodable ones a
 * {@value #QUARANTINE_REASON} ({@code RecordDecodingException.Kind} name) and their bytes. {@link
 * #decoded} and {@link #quarantined} split the result.
 */
public final class KafkaRecordDecoding {
  public static final String QUARANTINE_REASON = "quarantine_reason";
  public static final String QUARANTINE_DETAIL = "quarantine_detail";
  public static final String VALUE = "value";

  /** The quarantine Parquet layout. */
  public static final StructType QUARANTINE_SCHEMA =
      new StructType(
          new StructField[] {
            DataTypes.createStructField(VALUE, DataTypes.BinaryType, true),
            DataTypes.createStructField(RawColumns.KAFKA_PARTITION, DataTypes.IntegerType, true),
            DataTypes.createStructField(RawColumns.KAFKA_OFFSET, DataTypes.LongType, true),
            DataTypes.createStructField("reason", DataTypes.StringType, true),
            DataTypes.createStructField("detail", DataTypes.StringType, true),
          });

  static final StructType DECODED_SCHEMA =
      RawColumns.SCHEMA
          .add(QUARANTINE_REASON, DataTypes.StringType, true)
          .add(QUARANTINE_DETAIL, DataTypes.StringType, true)
          .add(VALUE, DataTypes.BinaryType, true);

  /** Longest detail kept in the quarantine table. */
  static final int MAX_DETAIL = 2000;

  private KafkaRecordDecoding() {}

  /** Kafka rows in, raw columns plus quarantine columns out (one row per message). */
  public static Dataset<Row> decode(Dataset<Row> kafkaRows) {
    return kafkaRows
        .select(col("value"), col("partition"), col("offset"))
        .mapPartitions(
            (MapPartitionsFunction<Row, Row>) KafkaRecordDecoding::decodePartition,
            Encoders.row(DECODED_SCHEMA));
  }

  /** The successfully decoded messages, in the raw layout. */
  public static Dataset<Row> decoded(Dataset<Row> decodeOutput) {
    return decodeOutput
        .where(col(QUARANTINE_REASON).isNull())
        .select(RawColumns.names().stream().map(c -> col(c)).toArray(Column[]::new));
  }

  /** The undecodable messages, in the quarantine layout. */
  public static Dataset<Row> quarantined(Dataset<Row> decodeOutput) {
    return decodeOutput
        .where(col(QUARANTINE_REASON).isNotNull())
        .select(
            col(VALUE),
            col(RawColumns.KAFKA_PARTITION),
            col(RawColumns.KAFKA_OFFSET),
            col(QUARANTINE_REASON).as("reason"),
            col(QUARANTINE_DETAIL).as("detail"));
  }

  private static Iterator<Row> decodePartition(Iterator<Row> in) {
    return new Iterator<>() {
      @Override
      public boolean hasNext() {
        return in.hasNext();
      }

      @Override
      public Row next() {
        Row r = in.next();
        byte[] value = r.isNullAt(0) ? null : (byte[]) r.get(0);
        int partition = r.getInt(1);
        long offset = r.getLong(2);
        try {
          return decodedRow(SingleObjectEncoding.decodeTeacherOutput(value), partition, offset);
        } catch (RecordDecodingException e) {
          return quarantineRow(value, partition, offset, e.kind().name(), e.getMessage());
        }
      }
    };
  }

  static Row decodedRow(TeacherOutput t, int partition, long offset) {
    Object[] v = rawValues(t, partition, offset);
    Object[] out = new Object[v.length + 3];
    System.arraycopy(v, 0, out, 0, v.length);
    return RowFactory.create(out);
  }

  /** The raw-layout values of a record, in {@link RawColumns#SCHEMA} order. */
  public static Object[] rawValues(TeacherOutput t, Integer partition, Long offset) {
    LabelStats s = t.getStats();
    Provenance p = t.getProvenance();
    // Row encoders want a Scala Seq for arrays.
    scala.collection.immutable.Seq<Integer> tokens =
        CollectionConverters.asScala(new ArrayList<>(t.getTokens())).toSeq();
    ByteBuffer buf = t.getSoftLabels().duplicate();
    byte[] labels = new byte[buf.remaining()];
    buf.get(labels);
    return new Object[] {
      str(t.getRecordId()),
      str(t.getPromptId()),
      str(t.getRunId()),
      str(t.getSource()),
      t.getChunkIndex(),
      t.getChunkCount(),
      tokens,
      labels,
      s.getPositions(),
      s.getMeanEntropy(),
      s.getMeanTop1Margin(),
      s.getMeanTopkMass(),
      s.getLabelOutsideTopkRate(),
      str(p.getTeacherId()),
      str(p.getTeacherSha256()),
      str(p.getTokenizerId()),
      str(p.getTokenizerSha256()),
      p.getVocabSize(),
      p.getTemperature(),
      p.getTopK(),
      str(p.getCodec()),
      p.getCodecVersion(),
      p.getSchemaVersion(),
      t.getCreatedAtMs(),
      partition,
      offset
    };
  }

  private static Row quarantineRow(
      byte[] value, int partition, long offset, String reason, String detail) {
    Object[] out = new Object[DECODED_SCHEMA.size()];
    int n = RawColumns.SCHEMA.size();
    out[RawColumns.SCHEMA.fieldIndex(RawColumns.KAFKA_PARTITION)] = partition;
    out[RawColumns.SCHEMA.fieldIndex(RawColumns.KAFKA_OFFSET)] = offset;
    out[n] = reason;
    out[n + 1] = truncate(String.valueOf(detail));
    out[n + 2] = value;
    return RowFactory.create(out);
  }

  private static String truncate(String s) {
    return s.length() <= MAX_DETAIL ? s : s.substring(0, MAX_DETAIL) + "...";
  }

  private static String str(Object o) {
    return o == null ? null : o.toString();
  }
}
