package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.col;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.encoding.SingleObjectEncoding;
import dev.distill.spark.TestRecords;
import dev.distill.spark.TestSpark;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TransformsTest {
  private static SparkSession spark;

  @BeforeAll
  static void startSpark() {
    spark = TestSpark.local("transforms-test");
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  /** Records a and b, b's provenance changed by {@code change}. */
  private static Dataset<Row> aAndChangedB(java.util.function.Consumer<Provenance.Builder> change) {
    return TestRecords.raw(
        spark,
        List.of(TestRecords.record("a", 1), withProvenance(TestRecords.record("b", 2), change)));
  }

  private static TeacherOutput withProvenance(
      TeacherOutput r, java.util.function.Consumer<Provenance.Builder> change) {
    Provenance.Builder p = Provenance.newBuilder(r.getProvenance());
    change.accept(p);
    return TeacherOutput.newBuilder(r).setProvenance(p.build()).build();
  }

  private static Map<String, Long> rejectCounts(Dataset<Row> annotated) {
    Map<String, Long> counts = new HashMap<>();
    for (Row r : annotated.groupBy(RecordValidation.REJECT_REASON).count().collectAsList()) {
      counts.put(r.isNullAt(0) ? "VALID" : r.getString(0), r.getLong(1));
    }
    return counts;
  }

  @Test
  void validationCountsRejectsByReasonAndKeepsValidRows() {
    List<TeacherOutput> records = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      records.add(TestRecords.record("good-" + i, i));
    }
    TeacherOutput outOfVocab = TestRecords.record("oov", List.of(1, 2, 3, 5000, 4));
    TeacherOutput coldTeacher =
        withProvenance(TestRecords.record("cold", 100), p -> p.setTemperature(0f));
    TeacherOutput coldTeacher2 =
        withProvenance(TestRecords.record("cold2", 101), p -> p.setTemperature(-1f));
    TeacherOutput garbled =
        TeacherOutput.newBuilder(TestRecords.record("garbled", 102))
            .setSoftLabels(ByteBuffer.wrap(new byte[] {1, 2, 3}))
            .build();
    TeacherOutput shortLabels =
        TeacherOutput.newBuilder(TestRecords.record("short", 103))
            .setTokens(List.of(1, 2, 3))
            .build();
    records.addAll(List.of(outOfVocab, coldTeacher, coldTeacher2, garbled, shortLabels));
    Dataset<Row> raw = TestRecords.raw(spark, records);
    // a row with a null required column
    Object[] values = KafkaRecordDecoding.rawValues(TestRecords.record("nullsrc", 104), null, null);
    values[RawColumns.SCHEMA.fieldIndex(RawColumns.SOURCE)] = null;
    raw = raw.union(spark.createDataFrame(List.of(RowFactory.create(values)), RawColumns.SCHEMA));

    Dataset<Row> annotated = RecordValidation.annotate(raw);

    assertThat(rejectCounts(annotated))
        .containsOnly(
            Map.entry("VALID", 5L),
            Map.entry("TOKEN_OUT_OF_VOCAB", 1L),
            Map.entry("NON_POSITIVE_TEMPERATURE", 2L),
            Map.entry("UNDECODABLE_SOFT_LABELS", 1L),
            Map.entry("SHAPE_MISMATCH", 2L));
    assertThat(
            RecordValidation.valid(annotated)
                .select(RawColumns.RECORD_ID)
                .as(org.apache.spark.sql.Encoders.STRING())
                .collectAsList())
        .containsExactlyInAnyOrder("good-0", "good-1", "good-2", "good-3", "good-4");
    assertThat(RecordValidation.valid(annotated).columns())
        .containsExactly(RawColumns.SCHEMA.fieldNames());
  }

  @Test
  void dedupeKeepsOneRowPerTokenSequenceWithTheSmallestRecordId() {
    Dataset<Row> raw =
        TestRecords.raw(
            spark,
            List.of(
                TestRecords.record("c", 7),
                TestRecords.record("a", 7),
                TestRecords.record("b", 7),
                TestRecords.record("d", 8),
                TestRecords.record("e", 9),
                TestRecords.record("e", 9)));

    List<String> kept =
        Deduplication.dropDuplicateTokens(raw)
            .select(RawColumns.RECORD_ID)
            .as(org.apache.spark.sql.Encoders.STRING())
            .collectAsList();

    assertThat(kept).containsExactlyInAnyOrder("a", "d", "e");
  }

  @Test
  void splitIsDeterministicRoughlyProportionalAndMatchesTheJavaHash() {
    List<Row> ids = new ArrayList<>();
    for (int i = 0; i < 4000; i++) {
      ids.add(RowFactory.create("record-" + i));
    }
    StructType schema = new StructType().add(RawColumns.RECORD_ID, DataTypes.StringType);
    Dataset<Row> rows = spark.createDataFrame(ids, schema);

    List<Row> first =
        SplitAssignment.assign(rows, 0.2).orderBy(RawColumns.RECORD_ID).collectAsList();
    List<Row> second =
        SplitAssignment.assign(rows.repartition(3), 0.2)
            .orderBy(RawColumns.RECORD_ID)
            .collectAsList();

    assertThat(second).isEqualTo(first);
    long val = first.stream().filter(r -> "val".equals(r.getString(1))).count();
    assertThat(val).isBetween(700L, 900L);
    for (Row r : first) {
      boolean javaSaysVal = SplitAssignment.hashFraction(r.getString(0)) < 0.2;
      assertThat(r.getString(1)).as(r.getString(0)).isEqualTo(javaSaysVal ? "val" : "train");
    }
  }

  @Test
  void splitSendsEverythingToTrainAtZeroAndToValAtOne() {
    Dataset<Row> raw =
        TestRecords.raw(spark, List.of(TestRecords.record("x", 1), TestRecords.record("y", 2)));

    assertThat(SplitAssignment.assign(raw, 0.0).where(col("split").equalTo("train")).count())
        .isEqualTo(2);
    assertThat(SplitAssignment.assign(raw, 1.0).where(col("split").equalTo("val")).count())
        .isEqualTo(2);
  }

  @Test
  void provenanceGuardRefusesMixedTokenizersNamingBoth() {
    Dataset<Row> raw = aAndChangedB(p -> p.setTokenizerId("gpt2").setTokenizerSha256("ff00"));

    assertThatThrownBy(() -> ProvenanceGuard.requireSingleProvenance(raw))
        .isInstanceOf(MixedProvenanceException.class)
        .hasMessageContaining("tokenizers")
        .hasMessageContaining("char@cc22")
        .hasMessageContaining("gpt2@ff00")
        .hasMessageNotContaining("teachers");
  }

  @Test
  void provenanceGuardRefusesMixedTemperaturesAndTeachers() {
    Dataset<Row> raw = aAndChangedB(p -> p.setTemperature(1f).setTeacherId("big"));

    assertThatThrownBy(() -> ProvenanceGuard.requireSingleProvenance(raw))
        .isInstanceOf(MixedProvenanceException.class)
        .hasMessageContaining("temperatures [1.0, 2.0]")
        .hasMessageContaining("big@aa11")
        .hasMessageContaining("teacher-a@aa11");
  }

  @Test
  void provenanceGuardPassesOneProvenanceThrough() {
    Dataset<Row> raw =
        TestRecords.raw(spark, List.of(TestRecords.record("a", 1), TestRecords.record("b", 2)));

    assertThat(ProvenanceGuard.requireSingleProvenance(raw).count()).isEqualTo(2);
  }

  @Test
  void curatedColumnsAreTheCuratedExampleFieldsPlusSplit() {
    Dataset<Row> raw = TestRecords.raw(spark, List.of(TestRecords.record("a", 1)));

    Dataset<Row> curated = CuratedProjection.toCurated(SplitAssignment.assign(raw, 0.5));

    List<String> expected = new ArrayList<>(CuratedProjection.curatedFieldNames());
    expected.add("split");
    assertThat(curated.columns()).containsExactlyElementsOf(expected);
    Row row = curated.first();
    assertThat(row.<Float>getAs("weight")).isEqualTo(1.0f);
    assertThat(row.<String>getAs("exampleId")).isEqualTo("a");
    assertThat(curated.schema().apply("tokens").dataType())
        .isEqualTo(DataTypes.createArrayType(DataTypes.IntegerType, true));
  }

  @Test
  void decodingSplitsGoodMessagesFromGarbageWithTheReason() {
    StructType kafka =
        new StructType()
            .add("key", DataTypes.BinaryType)
            .add("value", DataTypes.BinaryType)
            .add("partition", DataTypes.IntegerType)
            .add("offset", DataTypes.LongType);
    byte[] unknownFingerprint = {(byte) 0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0};
    List<Row> messages =
        List.of(
            RowFactory.create(
                null, SingleObjectEncoding.encode(TestRecords.record("r1", 1)), 0, 10L),
            RowFactory.create(null, "not avro".getBytes(StandardCharsets.UTF_8), 0, 11L),
            RowFactory.create(null, unknownFingerprint, 1, 12L));
    Dataset<Row> kafkaRows = spark.createDataFrame(messages, kafka);

    List<Row> good = KafkaRecordDecoding.raw(kafkaRows).collectAsList();
    List<Row> bad =
        KafkaRecordDecoding.quarantine(kafkaRows).orderBy("kafka_offset").collectAsList();

    assertThat(good).hasSize(1);
    assertThat(good.get(0).<String>getAs("record_id")).isEqualTo("r1");
    assertThat(good.get(0).<Long>getAs("kafka_offset")).isEqualTo(10L);
    assertThat(good.get(0).<Float>getAs("temperature")).isEqualTo(2f);
    assertThat(bad)
        .extracting(r -> r.<String>getAs("reason"))
        .containsExactly("NOT_SINGLE_OBJECT_ENCODING", "UNKNOWN_SCHEMA_FINGERPRINT");
    assertThat(bad.get(0).<byte[]>getAs("value"))
        .isEqualTo("not avro".getBytes(StandardCharsets.UTF_8));
    assertThat(bad.get(1).<Integer>getAs("kafka_partition")).isEqualTo(1);
    assertThat(bad.get(0).<String>getAs("detail")).isNotBlank();
  }
}
