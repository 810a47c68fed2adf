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
 * <p>{@link #raw} emits the decodable messages in the raw layout, {@link #quarantine} the
 * undecodable ones in the {@link #QUARANTINE_SCHEMA} layout with their bytes and the {@code
 * RecordDecodingException.Kind} name. Each reads only the three Kafka columns and builds only its
 * own rows (issue 14: narrow columns; no wide row carries columns for the other output).
 */
public final class KafkaRecordDecoding {
  static final String VALUE = "value";

  /** The quarantine Parquet layout. */
  static final StructType QUARANTINE_SCHEMA =
      new StructType(
          new StructField[] {
            DataTypes.createStructField(VALUE, DataTypes.BinaryType, true),
            DataTypes.createStructField(RawColumns.KAFKA_PARTITION, DataTypes.IntegerType, true),
            DataTypes.createStructField(RawColumns.KAFKA_OFFSET, DataTypes.LongType, true),
            DataTypes.createStructField("reason", DataTypes.StringType, true),
            DataTypes.createStructField("detail", DataTypes.StringType, true),
          });

  /** Longest detail kept in the quarantine table. */
  static final int MAX_DETAIL = 2000;

  private KafkaRecordDecoding() {}

  /** The decodable messages of {@code kafkaRows}, in the raw layout ({@link RawColumns#SCHEMA}). */
  public static Dataset<Row> raw(Dataset<Row> kafkaRows) {
    return kafkaColumns(kafkaRows)
        .mapPartitions(
            (MapPartitionsFunction<Row, Row>) in -> decodePartition(in, true),
            Encoders.row(RawColumns.SCHEMA));
  }

  /** The undecodable messages of {@code kafkaRows}, in the quarantine layout. */
  public static Dataset<Row> quarantine(Dataset<Row> kafkaRows) {
    return kafkaColumns(kafkaRows)
        .mapPartitions(
            (MapPartitionsFunction<Row, Row>) in -> decodePartition(in, false),
            Encoders.row(QUARANTINE_SCHEMA));
  }

  private static Dataset<Row> kafkaColumns(Dataset<Row> kafkaRows) {
    return kafkaRows.select(col(VALUE), col("partition"), col("offset"));
  }

  /** One decode per message; emits the decoded rows ({@code good}) or the quarantined ones. */
  private static Iterator<Row> decodePartition(Iterator<Row> in, boolean good) {
    return new Iterator<>() {
      private Row next;

      @Override
      public boolean hasNext() {
        while (next == null && in.hasNext()) {
          next = convert(in.next(), good);
        }
        return next != null;
      }

      @Override
      public Row next() {
        if (!hasNext()) {
          throw new java.util.NoSuchElementException();
        }
        Row r = next;
        next = null;
        return r;
      }
    };
  }

  /**
   * The message as a raw row ({@code good}) or a quarantine row; null when it is the other kind.
   */
  private static Row convert(Row r, boolean good) {
    byte[] value = r.isNullAt(0) ? null : (byte[]) r.get(0);
    int partition = r.getInt(1);
    long offset = r.getLong(2);
    try {
      TeacherOutput t = SingleObjectEncoding.decodeTeacherOutput(value);
      return good ? RowFactory.create(rawValues(t, partition, offset)) : null;
    } catch (RecordDecodingException e) {
      return good
          ? null
          : RowFactory.create(
              value, partition, offset, e.kind().name(), truncate(String.valueOf(e.getMessage())));
    }
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

  private static String truncate(String s) {
    return s.length() <= MAX_DETAIL ? s : s.substring(0, MAX_DETAIL) + "...";
  }

  private static String str(Object o) {
    return o == null ? null : o.toString();
  }
}
