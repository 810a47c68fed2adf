package dev.distill.spark;

import dev.distill.schemas.avro.LabelStats;
import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.spark.transforms.KafkaRecordDecoding;
import dev.distill.spark.transforms.RawColumns;
import java.nio.ByteBuffer;
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
    int[] ids = new int[positions * k];
    float[] probs = new float[positions * k];
    float[] tail = new float[positions];
    for (int p = 0; p < positions; p++) {
      ids[p * k] = p;
      ids[p * k + 1] = p + 1;
      probs[p * k] = 0.6f;
      probs[p * k + 1] = 0.3f;
      tail[p] = 0.1f;
    }
    byte[] labels = SoftLabelCodec.encode(new SoftLabels(positions, k, ids, probs, tail));
    return TeacherOutput.newBuilder()
        .setRecordId(id)
        .setPromptId("p-" + id)
        .setRunId("run-1")
        .setSource("test/train")
        .setTokens(new ArrayList<>(tokens))
        .setSoftLabels(ByteBuffer.wrap(labels))
        .setStats(
            LabelStats.newBuilder()
                .setPositions(positions)
                .setMeanEntropy(1.5f)
                .setMeanTop1Margin(0.3f)
                .setMeanTopkMass(0.9f)
                .setLabelOutsideTopkRate(0f)
                .build())
        .setProvenance(provenance(VOCAB, k))
        .setCreatedAtMs(1_700_000_000_000L)
        .build();
  }

  /** The tests' provenance: teacher-a@aa11, char@cc22, T = 2, codec v1. */
  public static Provenance provenance(int vocab, int k) {
    return Provenance.newBuilder()
        .setTeacherId("teacher-a")
        .setTeacherSha256("aa11")
        .setTokenizerId("char")
        .setTokenizerSha256("cc22")
        .setVocabSize(vocab)
        .setTemperature(2f)
        .setTopK(k)
        .setCodec(SoftLabelCodec.NAME)
        .setCodecVersion(SoftLabelCodec.VERSION)
        .setSchemaVersion(1)
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
