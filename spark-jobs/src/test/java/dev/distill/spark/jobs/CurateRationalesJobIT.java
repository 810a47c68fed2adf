package dev.distill.spark.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.distill.schemas.avro.Rationale;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.spark.SparkJobCounter;
import dev.distill.spark.TestRecords;
import dev.distill.spark.transforms.RationaleCuration;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.avro.AvroParquetWriter;
import org.apache.parquet.avro.AvroWriteSupport;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.util.HadoopOutputFile;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Rationale curation on real Parquet files in teacher-service's nested layout. */
class CurateRationalesJobIT {
  static SparkSession spark;
  @TempDir Path tmp;

  @BeforeAll
  static void start() {
    spark =
        SparkSession.builder()
            .master("local[2]")
            .appName("CurateRationalesJobIT")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .getOrCreate();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  private static Rationale rationale(String text, String answer) {
    List<Integer> ids = new ArrayList<>();
    for (int i = 0; i < text.length() + 2; i++) {
      ids.add(i % 10);
    }
    int positions = ids.size() - 1;
    int[] top = new int[positions * 2];
    float[] probs = new float[positions * 2];
    float[] tail = new float[positions];
    for (int p = 0; p < positions; p++) {
      top[p * 2] = 1;
      top[p * 2 + 1] = 2;
      probs[p * 2] = 0.5f;
      probs[p * 2 + 1] = 0.3f;
      tail[p] = 0.2f;
    }
    return Rationale.newBuilder()
        .setText(text)
        .setTokenIds(ids)
        .setAnswer(answer)
        .setMeanLogprob(-0.5f)
        .setSoftLabels(
            ByteBuffer.wrap(SoftLabelCodec.encode(new SoftLabels(positions, 2, top, probs, tail))))
        .build();
  }

  private static TeacherOutput prompt(String id, String gold, Rationale... rs) {
    TeacherOutput r = TestRecords.record(id, id.hashCode());
    r.setGoldAnswer(gold);
    r.setRationales(List.of(rs));
    return r;
  }

  private Path writeInput(List<TeacherOutput> records) throws IOException {
    return writeInput(records, 1);
  }

  /** The records in {@code files} Parquet files (round robin), as teacher-service writes them. */
  private Path writeInput(List<TeacherOutput> records, int files) throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("teacher-outputs"));
    Configuration conf = new Configuration();
    conf.setBoolean(AvroWriteSupport.WRITE_OLD_LIST_STRUCTURE, false);
    for (int f = 0; f < files; f++) {
      try (ParquetWriter<TeacherOutput> w =
          AvroParquetWriter.<TeacherOutput>builder(
                  HadoopOutputFile.fromPath(
                      new org.apache.hadoop.fs.Path(
                          dir.resolve("part-" + f + ".parquet").toString()),
                      conf))
              .withSchema(TeacherOutput.getClassSchema())
              .withConf(conf)
              .build()) {
        for (int i = f; i < records.size(); i += files) {
          w.write(records.get(i));
        }
      }
    }
    return dir;
  }

  private CurateRationalesJob.Config config(Path input) {
    return new CurateRationalesJob.Config(
        input.toString(),
        tmp.resolve("curated").toString(),
        tmp.resolve("report.json").toString(),
        0.3,
        new RationaleCuration.Options(1, 1000, true),
        null);
  }

  /** The consistent prompt {@code id}: two rationales that agree with each other and the gold. */
  private static TeacherOutput agreeing(String id) {
    return prompt(id, "5", rationale("a=5", "5"), rationale("b=5", "5"));
  }

  private static long parquetFiles(Path dir) throws IOException {
    try (var files = Files.walk(dir)) {
      return files.filter(f -> f.toString().endsWith(".parquet")).count();
    }
  }

  @Test
  void keepsSelfConsistentRationalesThatAgreeWithGoldAndCountsEveryDecision() throws Exception {
    Path input =
        writeInput(
            List.of(
                prompt(
                    "p1",
                    "5",
                    rationale("a=5", "5"),
                    rationale("b=5", "5"),
                    rationale("c=6", "6"),
                    rationale("no answer", null)),
                prompt(
                    "p2", "7", rationale("x=8", "8"), rationale("y=8", "8"), rationale("z=7", "7")),
                prompt("p3", null, rationale("k=3", "3"), rationale("l=3", "3"))));
    CurateRationalesJob.Result r = CurateRationalesJob.run(config(input));

    assertThat(r.prompts()).isEqualTo(3);
    assertThat(r.rationales()).isEqualTo(9);
    assertThat(r.decisions())
        .containsEntry("KEPT", 4L)
        .containsEntry("INCONSISTENT", 2L)
        .containsEntry("NO_ANSWER", 1L)
        .containsEntry("DISAGREES_WITH_GOLD", 2L);
    assertThat(r.kept()).isEqualTo(4);
    assertThat(tmp.resolve("curated/_SUCCESS")).exists();

    List<Row> rows = spark.read().parquet(tmp.resolve("curated").toString()).collectAsList();
    assertThat(rows.stream().map(x -> x.<String>getAs("exampleId")).collect(Collectors.toSet()))
        .containsExactlyInAnyOrder("p1#r0", "p1#r1", "p3#r0", "p3#r1");
    for (Row row : rows) {
      assertThat(row.<String>getAs("tokenizerSha256")).isNotBlank();
      assertThat(row.getList(row.fieldIndex("tokens"))).hasSize(5);
      assertThat(row.<String>getAs("split")).isIn("train", "val");
    }
    // both rationales of one prompt land in the same split
    assertThat(
            rows.stream()
                .filter(x -> x.<String>getAs("exampleId").startsWith("p1"))
                .map(x -> x.<String>getAs("split"))
                .distinct())
        .hasSize(1);
    String report = Files.readString(tmp.resolve("report.json"), StandardCharsets.UTF_8);
    assertThat(report).contains("\"KEPT\": 4", "\"INCONSISTENT\": 2", "\"kept\": 4");
  }

  @Test
  void nothingKeptIsAnEmptyButCompleteOutput() throws Exception {
    Path input = writeInput(List.of(prompt("p", "1", rationale("none", null))));
    CurateRationalesJob.Result r = CurateRationalesJob.run(config(input));
    assertThat(r.kept()).isZero();
    assertThat(r.decisions()).containsEntry("NO_ANSWER", 1L);
    assertThat(tmp.resolve("curated/_SUCCESS")).exists();
  }

  @Test
  void refusesToMixTemperatures() throws Exception {
    TeacherOutput a = prompt("a", "1", rationale("1", "1"));
    TeacherOutput b = prompt("b", "1", rationale("1", "1"));
    b.getProvenance().setTemperature(a.getProvenance().getTemperature() + 1f);
    Path input = writeInput(List.of(a, b));
    assertThatThrownBy(() -> CurateRationalesJob.run(config(input)))
        .hasMessageContaining("provenance.temperature");
  }

  @Test
  void curationRunsAtMostThreeSparkJobsWithEveryCountObservedOnTheWrite() throws Exception {
    // Issue 14: schema inference, the provenance check, the write. The old job ran 13 or more
    // (three distinct-value checks, a count, a decision aggregation through a self-join, split
    // counts over a cached wide dataset, the write).
    List<TeacherOutput> records = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      records.add(agreeing("p" + i));
    }
    records.add(
        prompt("q", "1", rationale("x=1", "1"), rationale("y=2", "2"), rationale("n", null)));
    Path input = writeInput(records, 4);

    SparkJobCounter.Counted<CurateRationalesJob.Result> run =
        SparkJobCounter.count(spark, () -> CurateRationalesJob.run(config(input)));

    assertThat(run.value().prompts()).isEqualTo(21);
    assertThat(run.value().rationales()).isEqualTo(43);
    assertThat(run.value().kept()).isEqualTo(41);
    assertThat(run.value().decisions())
        .containsExactly(
            java.util.Map.entry("INCONSISTENT", 1L),
            java.util.Map.entry("KEPT", 41L),
            java.util.Map.entry("NO_ANSWER", 1L));
    System.out.printf("rationale curation: %d Spark jobs, %d stages%n", run.jobs(), run.stages());
    assertThat(run.jobs()).isLessThanOrEqualTo(3);
  }

  @Test
  void manySmallInputFilesBecomeOneFilePerSplitPerTaskAndTheRowCapSplitsFiles() throws Exception {
    List<TeacherOutput> records = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      records.add(agreeing("p" + i));
    }
    Path input = writeInput(records, 10);
    CurateRationalesJob.Config base = config(input);

    CurateRationalesJob.Result r = CurateRationalesJob.run(base);

    assertThat(r.kept()).isEqualTo(80);
    Path curated = tmp.resolve("curated");
    // local[2]: at most 2 write tasks, each one file per split (the old job wrote one a file).
    assertThat(parquetFiles(curated.resolve("split=train"))).isBetween(1L, 2L);
    assertThat(parquetFiles(curated.resolve("split=val"))).isBetween(1L, 2L);

    CurateRationalesJob.run(
        new CurateRationalesJob.Config(
            base.inputPath(),
            base.outputPath(),
            base.reportPath(),
            base.valFraction(),
            base.options(),
            null,
            128,
            10));
    assertThat(parquetFiles(curated)).isGreaterThanOrEqualTo(8);
    assertThat(spark.read().parquet(curated.toString()).count()).isEqualTo(80);
  }
}
