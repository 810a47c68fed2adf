package dev.distill.trainer.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.distill.schemas.avro.CuratedExample;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.trainer.TestLabels;
import dev.distill.trainer.data.Example;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.avro.AvroParquetWriter;
import org.apache.parquet.column.ParquetProperties;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.util.HadoopOutputFile;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CuratedDatasetTest {
  private static final String TOKENIZER_SHA = "cd01";
  private static final String OTHER_SHA = "ef02";

  @TempDir java.nio.file.Path dir;

  /** k = 2, vocab 10; position p has ids {p % 9, p % 9 + 1}, probs {0.6, 0.3}, tail 0.1. */
  static CuratedExample record(
      String id, int positions, String teacher, float temp, String tokSha) {
    List<Integer> tokens = new ArrayList<>();
    for (int p = 0; p < positions; p++) {
      tokens.add((p * 7) % 10);
    }
    tokens.add(positions % 10);
    byte[] labels = SoftLabelCodec.encode(TestLabels.topTwo(positions, 9, 0.6f, 0.3f, 0.1f));
    return CuratedExample.newBuilder()
        .setExampleId(id)
        .setSource("test")
        .setTokens(tokens)
        .setSoftLabels(ByteBuffer.wrap(labels))
        .setWeight(0.5f)
        .setMeanEntropy(1f)
        .setMeanTopkMass(0.9f)
        .setTeacherId(teacher)
        .setTeacherSha256("ab" + teacher)
        .setTokenizerId("char-tok")
        .setTokenizerSha256(tokSha)
        .setVocabSize(10)
        .setTemperature(temp)
        .setTopK(2)
        .setCodec(SoftLabelCodec.NAME)
        .setCodecVersion(SoftLabelCodec.VERSION)
        .setSchemaVersion(1)
        .build();
  }

  static CuratedExample record(String id, int positions) {
    return record(id, positions, "teacher-a", 2f, TOKENIZER_SHA);
  }

  /** Writes with parquet-avro and Spark's 3-level list layout. */
  static void writeAvro(java.nio.file.Path file, CuratedExample... records) throws IOException {
    writeAvro(file, ParquetProperties.DEFAULT_ROW_GROUP_ROW_COUNT_LIMIT, records);
  }

  /**
   * As {@link #writeAvro(java.nio.file.Path, CuratedExample...)}, {@code perGroup} rows a row
   * group.
   */
  static void writeAvro(java.nio.file.Path file, int perGroup, CuratedExample... records)
      throws IOException {
    Files.createDirectories(file.getParent());
    Configuration conf = new Configuration();
    conf.setBoolean("parquet.avro.write-old-list-structure", false);
    try (ParquetWriter<CuratedExample> w =
        AvroParquetWriter.<CuratedExample>builder(
                HadoopOutputFile.fromPath(new Path(file.toUri()), conf))
            .withSchema(CuratedExample.getClassSchema())
            .withConf(conf)
            .withRowGroupRowCountLimit(perGroup)
            .build()) {
      for (CuratedExample r : records) {
        w.write(r);
      }
    }
  }

  /** The schema Spark 4 writes for a Dataset of CuratedExample's columns: no Avro schema kept. */
  private static final MessageType SPARK_SCHEMA =
      MessageTypeParser.parseMessageType(
          "message spark_schema {\n"
              + "  optional binary exampleId (STRING);\n"
              + "  optional binary source (STRING);\n"
              + "  optional group tokens (LIST) {\n"
              + "    repeated group list {\n"
              + "      optional int32 element;\n"
              + "    }\n"
              + "  }\n"
              + "  optional binary softLabels;\n"
              + "  optional float weight;\n"
              + "  optional float meanEntropy;\n"
              + "  optional float meanTopkMass;\n"
              + "  optional binary teacherId (STRING);\n"
              + "  optional binary teacherSha256 (STRING);\n"
              + "  optional binary tokenizerId (STRING);\n"
              + "  optional binary tokenizerSha256 (STRING);\n"
              + "  optional int32 vocabSize;\n"
              + "  optional float temperature;\n"
              + "  optional int32 topK;\n"
              + "  optional binary codec (STRING);\n"
              + "  optional int32 codecVersion;\n"
              + "  optional int32 schemaVersion;\n"
              + "}");

  /** Writes the way Spark does: parquet's own writer, 3-level lists, optional columns. */
  private static void writeSparkLayout(java.nio.file.Path file, CuratedExample... records)
      throws IOException {
    Files.createDirectories(file.getParent());
    Configuration conf = new Configuration();
    SimpleGroupFactory groups = new SimpleGroupFactory(SPARK_SCHEMA);
    try (ParquetWriter<Group> w =
        ExampleParquetWriter.builder(HadoopOutputFile.fromPath(new Path(file.toUri()), conf))
            .withType(SPARK_SCHEMA)
            .withConf(conf)
            .build()) {
      for (CuratedExample r : records) {
        Group g = groups.newGroup();
        g.append("exampleId", r.getExampleId().toString());
        g.append("source", r.getSource().toString());
        Group tokens = g.addGroup("tokens");
        for (int t : r.getTokens()) {
          tokens.addGroup("list").append("element", t);
        }
        byte[] labels = new byte[r.getSoftLabels().remaining()];
        r.getSoftLabels().duplicate().get(labels);
        g.append("softLabels", org.apache.parquet.io.api.Binary.fromConstantByteArray(labels));
        g.append("weight", r.getWeight());
        g.append("meanEntropy", r.getMeanEntropy());
        g.append("meanTopkMass", r.getMeanTopkMass());
        g.append("teacherId", r.getTeacherId().toString());
        g.append("teacherSha256", r.getTeacherSha256().toString());
        g.append("tokenizerId", r.getTokenizerId().toString());
        g.append("tokenizerSha256", r.getTokenizerSha256().toString());
        g.append("vocabSize", r.getVocabSize());
        g.append("temperature", r.getTemperature());
        g.append("topK", r.getTopK());
        g.append("codec", r.getCodec().toString());
        g.append("codecVersion", r.getCodecVersion());
        g.append("schemaVersion", r.getSchemaVersion());
        w.write(g);
      }
    }
  }

  private void success() throws IOException {
    Files.createDirectories(dir);
    Files.createFile(dir.resolve("_SUCCESS"));
  }

  private static int[] tokensOf(CuratedExample r) {
    return r.getTokens().stream().mapToInt(Integer::intValue).toArray();
  }

  @Test
  void roundTripsRecordsWrittenByParquetAvroWithThreeLevelLists() throws IOException {
    CuratedExample a = record("a", 5);
    CuratedExample b = record("b", 3);
    writeAvro(dir.resolve("split=train/part-00000.parquet"), a, b);
    writeAvro(dir.resolve("split=val/part-00000.parquet"), record("v", 2));
    success();

    CuratedDataset ds = CuratedDataset.read(dir.toString(), "train", TOKENIZER_SHA);

    assertThat(ds.examples()).extracting(Example::id).containsExactly("a", "b");
    Example first = ds.examples().get(0);
    assertThat(first.tokens()).containsExactly(tokensOf(a));
    assertThat(first.labels()).isEqualTo(SoftLabelCodec.decode(a.getSoftLabels().array()));
    assertThat(first.weight()).isEqualTo(0.5f);
    assertThat(ds.tokens()).isEqualTo(8);
    assertThat(ds.teacherId()).isEqualTo("teacher-a");
    assertThat(ds.teacherSha256()).isEqualTo("abteacher-a");
    assertThat(ds.tokenizerId()).isEqualTo("char-tok");
    assertThat(ds.temperature()).isEqualTo(2f);
    assertThat(ds.topK()).isEqualTo(2);
    assertThat(ds.vocabSize()).isEqualTo(10);
  }

  @Test
  void readsFilesLaidOutTheWaySparkWritesThem() throws IOException {
    CuratedExample a = record("a", 4);
    CuratedExample b = record("b", 6);
    writeSparkLayout(dir.resolve("split=train/part-00000-x.c000.zstd.parquet"), a);
    writeSparkLayout(dir.resolve("split=train/part-00001-x.c000.zstd.parquet"), b);
    Files.writeString(dir.resolve("split=train/_committed_123"), "not parquet");
    Files.writeString(dir.resolve("split=train/.hidden"), "not parquet");
    success();

    CuratedDataset ds = CuratedDataset.read("file://" + dir, "train", TOKENIZER_SHA);

    assertThat(ds.examples()).extracting(Example::id).containsExactly("a", "b");
    assertThat(ds.examples().get(1).tokens()).containsExactly(tokensOf(b));
    assertThat(ds.examples().get(1).labels().positions()).isEqualTo(6);
    assertThat(ds.tokens()).isEqualTo(10);
  }

  @Test
  void refusesAFolderWithoutSuccessMarkerNamingIt() throws IOException {
    writeAvro(dir.resolve("split=train/part-0.parquet"), record("a", 3));
    assertThatThrownBy(() -> CuratedDataset.read(dir.toString(), "train", TOKENIZER_SHA))
        .isInstanceOf(DataContractException.class)
        .hasMessageContaining(dir.toString())
        .hasMessageContaining("_SUCCESS");
  }

  @Test
  void refusesATokenizerMismatchNamingBothTokenizers() throws IOException {
    writeAvro(dir.resolve("split=train/part-0.parquet"), record("a", 3));
    success();
    assertThatThrownBy(
            () ->
                CuratedDataset.read(
                    dir.toString(), "train", "student-tok", OTHER_SHA, new Configuration()))
        .isInstanceOf(DataContractException.class)
        .hasMessageContaining("char-tok")
        .hasMessageContaining(TOKENIZER_SHA)
        .hasMessageContaining("student-tok")
        .hasMessageContaining(OTHER_SHA);
    assertThatThrownBy(() -> CuratedDataset.read(dir.toString(), "train", OTHER_SHA))
        .isInstanceOf(DataContractException.class)
        .hasMessageContaining(TOKENIZER_SHA)
        .hasMessageContaining(OTHER_SHA);
  }

  @Test
  void refusesATruncatedFileNamingIt() throws IOException {
    writeAvro(dir.resolve("split=train/part-0.parquet"), record("a", 3));
    java.nio.file.Path whole = dir.resolve("split=train/part-1.parquet");
    writeAvro(whole, record("b", 40), record("c", 40));
    byte[] bytes = Files.readAllBytes(whole);
    Files.write(whole, Arrays.copyOf(bytes, bytes.length / 2));
    Files.deleteIfExists(dir.resolve("split=train/.part-1.parquet.crc"));
    success();

    assertThatThrownBy(() -> CuratedDataset.read(dir.toString(), "train", TOKENIZER_SHA))
        .isInstanceOf(DataContractException.class)
        .hasMessageContaining("part-1.parquet");
  }

  @Test
  void refusesRecordsThatMixTeachersOrTemperatures() throws IOException {
    writeAvro(dir.resolve("split=train/part-0.parquet"), record("a", 3));
    writeAvro(
        dir.resolve("split=train/part-1.parquet"), record("b", 3, "teacher-b", 2f, TOKENIZER_SHA));
    writeAvro(
        dir.resolve("split=val/part-0.parquet"),
        record("c", 3),
        record("d", 3, "teacher-a", 1f, TOKENIZER_SHA));
    success();

    assertThatThrownBy(() -> CuratedDataset.read(dir.toString(), "train", TOKENIZER_SHA))
        .isInstanceOf(DataContractException.class)
        .hasMessageContaining("teacher-a")
        .hasMessageContaining("teacher-b");
    assertThatThrownBy(() -> CuratedDataset.read(dir.toString(), "val", TOKENIZER_SHA))
        .isInstanceOf(DataContractException.class)
        .hasMessageContaining("temperature")
        .hasMessageContaining("2.0")
        .hasMessageContaining("1.0");
  }

  @Test
  void refusesAMissingSplitFolder() throws IOException {
    writeAvro(dir.resolve("split=train/part-0.parquet"), record("a", 3));
    success();
    assertThatThrownBy(() -> CuratedDataset.read(dir.toString(), "test", TOKENIZER_SHA))
        .isInstanceOf(DataContractException.class)
        .hasMessageContaining("split=test");
  }

  /** A codec-v2 record, N = 2 per position: id p % 9 drawn twice. */
  static CuratedExample sampledRecord(String id, int positions) {
    int[] offsets = new int[positions + 1];
    int[] ids = new int[positions];
    int[] counts = new int[positions];
    for (int p = 0; p < positions; p++) {
      offsets[p + 1] = p + 1;
      ids[p] = p % 9;
      counts[p] = 2;
    }
    CuratedExample r = record(id, positions);
    r.setSoftLabels(
        ByteBuffer.wrap(
            dev.distill.schemas.codec.SampledSoftLabelCodec.encode(
                new dev.distill.schemas.codec.SampledSoftLabelCodec.Sampled(
                    positions, 2, offsets, ids, counts))));
    r.setCodec(dev.distill.schemas.codec.SampledSoftLabelCodec.NAME);
    r.setCodecVersion(dev.distill.schemas.codec.SampledSoftLabelCodec.VERSION);
    r.setTopK(2);
    return r;
  }

  @Test
  void readsSampledRecordsAsSampledLabelsPaddedToN() throws IOException {
    writeAvro(dir.resolve("split=train/part-0.parquet"), sampledRecord("s", 3));
    success();
    Example e = CuratedDataset.read(dir.toString(), "train", TOKENIZER_SHA).examples().get(0);
    assertThat(e.labels().sampled()).isTrue();
    assertThat(e.labels().k()).isEqualTo(2);
    // position 1: id 1 with 2/2, then padding id 0 at 0
    assertThat(e.labels().id(1, 0)).isEqualTo(1);
    assertThat(e.labels().prob(1, 0)).isEqualTo(1f);
    assertThat(e.labels().id(1, 1)).isEqualTo(0);
    assertThat(e.labels().prob(1, 1)).isEqualTo(0f);
  }

  @Test
  void refusesADataSetThatMixesCodecs() throws IOException {
    writeAvro(dir.resolve("split=train/part-0.parquet"), record("a", 3), sampledRecord("s", 3));
    success();
    assertThatThrownBy(() -> CuratedDataset.read(dir.toString(), "train", TOKENIZER_SHA))
        .isInstanceOf(DataContractException.class)
        .hasMessageContaining("codec")
        .hasMessageContaining("sampled-counts v2");
  }
}
