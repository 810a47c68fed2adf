package dev.distill.spark.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.distill.schemas.avro.CuratedExample;
import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.spark.TestRecords;
import dev.distill.spark.TestSpark;
import dev.distill.spark.transforms.CuratedProjection;
import dev.distill.spark.transforms.MixedProvenanceException;
import dev.distill.spark.transforms.SplitAssignment;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.avro.AvroParquetReader;
import org.apache.parquet.avro.AvroParquetWriter;
import org.apache.parquet.avro.AvroReadSupport;
import org.apache.parquet.avro.AvroWriteSupport;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.hadoop.util.HadoopOutputFile;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** CurateJob on real Parquet files in a temp folder. */
class CurateJobIT {
  private static SparkSession spark;

  @TempDir static Path tmp;

  @BeforeAll
  static void start() {
    spark = TestSpark.local("curate-it");
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  private static TeacherOutput withTemperature(TeacherOutput r, float t) {
    return TeacherOutput.newBuilder(r)
        .setProvenance(Provenance.newBuilder(r.getProvenance()).setTemperature(t).build())
        .build();
  }

  /** 20 distinct valid, 2 same-token duplicates, 1 redelivered record, 2 invalid: 25 rows. */
  private static List<TeacherOutput> mixedBatch() {
    List<TeacherOutput> records = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      records.add(TestRecords.record(String.format("rec-%02d", i), i));
    }
    records.add(TestRecords.record("zzz-dup-of-3", 3));
    records.add(TestRecords.record("zzz-dup-of-4", 4));
    records.add(TestRecords.record("rec-05", 5));
    records.add(TestRecords.record("bad-token", List.of(1, 2, 3, 99999, 4)));
    records.add(withTemperature(TestRecords.record("bad-temp", 500), 0f));
    return records;
  }

  private static Path writeRaw(String name, List<TeacherOutput> records, int files) {
    Path dir = tmp.resolve(name);
    TestRecords.raw(spark, records).repartition(files).write().parquet(dir.toString());
    return dir;
  }

  private static long expectedVal(int n, double fraction) {
    long val = 0;
    for (int i = 0; i < n; i++) {
      if (SplitAssignment.hashFraction(String.format("rec-%02d", i)) < fraction) {
        val++;
      }
    }
    return val;
  }

  @Test
  void curatesRawParquetIntoSplitFoldersWithReport() throws Exception {
    Path input = writeRaw("raw-main", mixedBatch(), 3);
    Path output = tmp.resolve("curated-main");
    Path report = tmp.resolve("report-main.json");
    long expectedVal = expectedVal(20, 0.5);
    assertThat(expectedVal).as("precondition: both splits non-empty").isBetween(1L, 19L);

    CurateResult result =
        CurateJob.run(
            new CurateConfig(input.toString(), output.toString(), report.toString(), 0.5, null));

    assertThat(result.input()).isEqualTo(25);
    assertThat(result.rejected()).isEqualTo(2);
    assertThat(result.rejectedByReason())
        .containsOnly(
            java.util.Map.entry("TOKEN_OUT_OF_VOCAB", 1L),
            java.util.Map.entry("NON_POSITIVE_TEMPERATURE", 1L));
    assertThat(result.duplicates()).isEqualTo(3);
    assertThat(result.kept()).isEqualTo(20);
    assertThat(result.val()).isEqualTo(expectedVal);
    assertThat(result.train()).isEqualTo(20 - expectedVal);
    assertThat(output.resolve("_SUCCESS")).exists();
    assertThat(output.resolve("split=train")).isDirectory();
    assertThat(output.resolve("split=val")).isDirectory();
    try (Stream<Path> files = Files.list(output.resolve("split=train"))) {
      assertThat(files.map(p -> p.getFileName().toString()).filter(f -> f.endsWith(".parquet")))
          .isNotEmpty()
          .allMatch(f -> f.endsWith(".zstd.parquet"));
    }

    JsonNode json = new ObjectMapper().readTree(report.toFile());
    assertThat(json.get("input").asLong()).isEqualTo(25);
    assertThat(json.get("kept").asLong()).isEqualTo(20);
    assertThat(json.get("rejected").asLong()).isEqualTo(2);
    assertThat(json.get("rejected_by_reason").get("TOKEN_OUT_OF_VOCAB").asLong()).isEqualTo(1);
    assertThat(json.get("rejected_by_reason").get("NON_POSITIVE_TEMPERATURE").asLong())
        .isEqualTo(1);
    assertThat(json.get("duplicates").asLong()).isEqualTo(3);
    assertThat(json.get("splits").get("train").asLong()).isEqualTo(20 - expectedVal);
    assertThat(json.get("splits").get("val").asLong()).isEqualTo(expectedVal);
    assertThat(json.get("output").asText()).isEqualTo(output.toString());

    Dataset<Row> curated = spark.read().parquet(output.toString());
    List<String> columns = new ArrayList<>(CuratedProjection.curatedFieldNames());
    columns.add("split");
    assertThat(curated.columns()).containsExactlyElementsOf(columns);
    List<String> ids =
        curated.select("exampleId").as(org.apache.spark.sql.Encoders.STRING()).collectAsList();
    assertThat(ids).hasSize(20).doesNotHaveDuplicates().contains("rec-03", "rec-04");
    assertThat(ids).noneMatch(id -> id.startsWith("zzz") || id.startsWith("bad"));
    assertThat(spark.active()).isSameAs(spark);
  }

  private static List<Path> parquetFiles(Path dir) throws IOException {
    try (Stream<Path> files = Files.walk(dir)) {
      return files.filter(p -> p.getFileName().toString().endsWith(".parquet")).toList();
    }
  }

  @Test
  void theWriteKeepsOneOpenFilePerSplitInsteadOfSortingTheWideRowsAndRestoresTheSetting()
      throws Exception {
    List<TeacherOutput> records = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      records.add(TestRecords.record(String.format("unsorted-%03d", i), 2000 + i));
    }
    Path input = writeRaw("raw-unsorted-write", records, 3);
    List<String> writePlans = new java.util.concurrent.CopyOnWriteArrayList<>();
    org.apache.spark.sql.util.QueryExecutionListener listener =
        new org.apache.spark.sql.util.QueryExecutionListener() {
          @Override
          public void onSuccess(
              String funcName, org.apache.spark.sql.execution.QueryExecution qe, long nanos) {
            String plan = qe.executedPlan().toString();
            if (plan.contains("InsertIntoHadoopFsRelationCommand")) {
              writePlans.add(plan);
            }
          }

          @Override
          public void onFailure(
              String funcName, org.apache.spark.sql.execution.QueryExecution qe, Exception e) {}
        };
    String output = tmp.resolve("curated-unsorted-write").toString();
    String report = tmp.resolve("r-unsorted-write.json").toString();
    // The input's own write reports to listeners asynchronously: let it pass before listening.
    spark.sparkContext().listenerBus().waitUntilEmpty();
    spark.listenerManager().register(listener);
    CurateResult r;
    try {
      r = CurateJob.run(new CurateConfig(input.toString(), output, report, 0.2, null));
      spark.sparkContext().listenerBus().waitUntilEmpty();
    } finally {
      spark.listenerManager().unregister(listener);
    }

    assertThat(r.kept()).isEqualTo(60);
    assertThat(r.train()).isPositive();
    assertThat(r.val()).isPositive();
    // Spark's default plans a Sort of the rows by split before the write.
    assertThat(writePlans).hasSize(1);
    assertThat(writePlans.get(0)).doesNotContain("Sort [");
    assertThat(spark.conf().contains(CurateJob.CONCURRENT_WRITERS)).isFalse();
  }

  @Test
  void manySmallInputFilesCurateIntoAtMostOneFilePerSplitPerCore() throws Exception {
    List<TeacherOutput> records = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      records.add(TestRecords.record(String.format("many-%03d", i), 1000 + i));
    }
    Path input = writeRaw("raw-many-files", records, 40);
    assertThat(parquetFiles(input)).hasSize(40);
    Path output = tmp.resolve("curated-many-files");

    CurateResult r =
        CurateJob.run(
            new CurateConfig(
                input.toString(),
                output.toString(),
                tmp.resolve("r-many.json").toString(),
                0.1,
                null));

    assertThat(r.kept()).isEqualTo(200);
    // local[2]: two write tasks (the output is far below --target-file-mb), each one file a split.
    assertThat(parquetFiles(output.resolve("split=train"))).hasSizeBetween(1, 2);
    assertThat(parquetFiles(output.resolve("split=val"))).hasSizeBetween(1, 2);
    assertThat(spark.read().parquet(output.toString()).count()).isEqualTo(200);
  }

  @Test
  void maxRecordsPerFileCapsTheRowsOfEachOutputFile() throws Exception {
    List<TeacherOutput> records = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      records.add(TestRecords.record(String.format("cap-%03d", i), 2000 + i));
    }
    Path input = writeRaw("raw-capped", records, 2);
    Path output = tmp.resolve("curated-capped");

    CurateJob.run(
        new CurateConfig(
                input.toString(),
                output.toString(),
                tmp.resolve("r-cap.json").toString(),
                0.1,
                null)
            .withOutputFiles(128, 10));

    List<Path> files = parquetFiles(output);
    assertThat(files.size()).isGreaterThanOrEqualTo(6);
    for (Path f : files) {
      assertThat(spark.read().parquet(f.toString()).count()).isBetween(1L, 10L);
    }
  }

  @Test
  void curatedFilesReadBackAsCuratedExampleWithParquetAvro() throws Exception {
    Path input = writeRaw("raw-avro", List.of(TestRecords.record("only", 42)), 1);
    Path output = tmp.resolve("curated-avro");

    CurateJob.run(
        new CurateConfig(
            input.toString(), output.toString(), tmp.resolve("r-avro.json").toString(), 0.0, null));

    Path file;
    try (Stream<Path> files = Files.list(output.resolve("split=train"))) {
      file = files.filter(p -> p.toString().endsWith(".parquet")).findFirst().orElseThrow();
    }
    Configuration conf = new Configuration();
    AvroReadSupport.setAvroReadSchema(conf, CuratedExample.getClassSchema());
    try (ParquetReader<CuratedExample> reader =
        AvroParquetReader.<CuratedExample>builder(
                HadoopInputFile.fromPath(new org.apache.hadoop.fs.Path(file.toString()), conf))
            .withConf(conf)
            .build()) {
      CuratedExample e = reader.read();
      TeacherOutput source = TestRecords.record("only", 42);
      assertThat(e.getExampleId()).isEqualTo("only");
      assertThat(e.getTokens()).isEqualTo(source.getTokens());
      assertThat(e.getSoftLabels()).isEqualTo(source.getSoftLabels());
      assertThat(e.getWeight()).isEqualTo(1.0f);
      assertThat(e.getTokenizerSha256()).isEqualTo("cc22");
      assertThat(e.getTemperature()).isEqualTo(2f);
      assertThat(reader.read()).isNull();
    }
  }

  @Test
  void rerunWithNoValRecordsRemovesTheStaleValFolder() {
    Path input = writeRaw("raw-rerun", mixedBatch(), 1);
    Path output = tmp.resolve("curated-rerun");
    String report = tmp.resolve("r-rerun.json").toString();
    CurateJob.run(new CurateConfig(input.toString(), output.toString(), report, 0.5, null));
    assertThat(output.resolve("split=val")).isDirectory();

    CurateResult second =
        CurateJob.run(new CurateConfig(input.toString(), output.toString(), report, 0.0, null));

    assertThat(second.val()).isZero();
    assertThat(second.train()).isEqualTo(20);
    assertThat(output.resolve("split=val")).doesNotExist();
    assertThat(spark.read().parquet(output.toString()).count()).isEqualTo(20);
  }

  @Test
  void rerunningOneRunIdReplacesOnlyThatRunsPartitions() {
    List<TeacherOutput> day1 = new ArrayList<>();
    List<TeacherOutput> day2 = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      day1.add(TestRecords.record(String.format("d1-%02d", i), 100 + i));
      day2.add(TestRecords.record(String.format("d2-%02d", i), 200 + i));
    }
    Path output = tmp.resolve("curated-runs");
    String report = tmp.resolve("r-runs.json").toString();
    Path in1 = writeRaw("raw-day1", day1, 1);
    CurateJob.run(
        new CurateConfig(in1.toString(), output.toString(), report, 0.3, null)
            .withRunId("2026-11-21"));
    CurateJob.run(
        new CurateConfig(
                writeRaw("raw-day2", day2, 1).toString(), output.toString(), report, 0.3, null)
            .withRunId("2026-11-22"));
    // Day 1 again, now with only 5 of its records, all in train.
    CurateResult again =
        CurateJob.run(
            new CurateConfig(
                    writeRaw("raw-day1-again", day1.subList(0, 5), 1).toString(),
                    output.toString(),
                    report,
                    0.0,
                    null)
                .withRunId("2026-11-21"));

    assertThat(again.outputPath()).isEqualTo(output.resolve("run_id=2026-11-21").toString());
    assertThat(output.resolve("run_id=2026-11-21").resolve("_SUCCESS")).exists();
    assertThat(output.resolve("run_id=2026-11-21").resolve("split=val")).doesNotExist();
    assertThat(output.resolve("_SUCCESS")).exists();
    Dataset<Row> all = spark.read().parquet(output.toString());
    assertThat(all.where("run_id = '2026-11-21'").count()).isEqualTo(5);
    assertThat(all.where("run_id = '2026-11-22'").count()).isEqualTo(8);
    assertThat(spark.read().parquet(again.outputPath()).columns()).doesNotContain("run_id");
  }

  @Test
  void mixedTokenizersFailTheJobAndWriteNothing() {
    TeacherOutput other = TestRecords.record("other", 7);
    other =
        TeacherOutput.newBuilder(other)
            .setProvenance(
                Provenance.newBuilder(other.getProvenance())
                    .setTokenizerId("bpe")
                    .setTokenizerSha256("ee99")
                    .build())
            .build();
    Path input = writeRaw("raw-mixed", List.of(TestRecords.record("a", 1), other), 1);
    Path output = tmp.resolve("curated-mixed");
    Path report = tmp.resolve("r-mixed.json");

    assertThatThrownBy(
            () ->
                CurateJob.run(
                    new CurateConfig(
                        input.toString(), output.toString(), report.toString(), 0.1, null)))
        .isInstanceOf(MixedProvenanceException.class)
        .hasMessageContaining("char@cc22")
        .hasMessageContaining("bpe@ee99");
    assertThat(output).doesNotExist();
    assertThat(report).doesNotExist();
  }

  @Test
  void truncatedInputFileFailsTheJobNamingTheFile() throws IOException {
    Path input = writeRaw("raw-truncated", mixedBatch(), 3);
    Path victim;
    try (Stream<Path> files = Files.list(input)) {
      victim =
          files
              .filter(p -> p.getFileName().toString().endsWith(".parquet"))
              .sorted()
              .reduce((a, b) -> b)
              .orElseThrow();
    }
    try (RandomAccessFile f = new RandomAccessFile(victim.toFile(), "rw")) {
      f.setLength(f.length() / 2);
    }
    Files.deleteIfExists(input.resolve("." + victim.getFileName() + ".crc"));
    Path output = tmp.resolve("curated-truncated");

    assertThatThrownBy(
            () ->
                CurateJob.run(
                    new CurateConfig(
                        input.toString(),
                        output.toString(),
                        tmp.resolve("r-trunc.json").toString(),
                        0.1,
                        null)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining(victim.getFileName().toString());
    assertThat(output.resolve("_SUCCESS")).doesNotExist();
  }

  @Test
  void teacherServiceBatchLayoutIsCuratedLikeTheFlatLayout() throws Exception {
    Path input = Files.createDirectories(tmp.resolve("raw-batch"));
    Configuration conf = new Configuration();
    conf.setBoolean(AvroWriteSupport.WRITE_OLD_LIST_STRUCTURE, false);
    try (ParquetWriter<TeacherOutput> w =
        AvroParquetWriter.<TeacherOutput>builder(
                HadoopOutputFile.fromPath(
                    new org.apache.hadoop.fs.Path(input.resolve("part-00000.parquet").toString()),
                    conf))
            .withSchema(TeacherOutput.getClassSchema())
            .withConf(conf)
            .build()) {
      for (TeacherOutput r : mixedBatch()) {
        w.write(r);
      }
    }
    Path output = tmp.resolve("curated-batch");

    CurateResult result =
        CurateJob.run(
            new CurateConfig(
                input.toString(),
                output.toString(),
                tmp.resolve("r-batch.json").toString(),
                0.5,
                null));

    assertThat(result.input()).isEqualTo(25);
    assertThat(result.rejected()).isEqualTo(2);
    assertThat(result.duplicates()).isEqualTo(3);
    assertThat(result.kept()).isEqualTo(20);
    assertThat(result.val()).isEqualTo(expectedVal(20, 0.5));
  }

  private static List<Integer> text(long seed) {
    java.util.Random r = new java.util.Random(seed);
    List<Integer> t = new ArrayList<>();
    for (int i = 0; i < 64; i++) {
      t.add(r.nextInt(60));
    }
    return t;
  }

  private static TeacherOutput chunk(String id, List<Integer> tokens, int index, int count) {
    return TeacherOutput.newBuilder(TestRecords.record(id, tokens))
        .setChunkIndex(index)
        .setChunkCount(count)
        .build();
  }

  @Test
  void everyOptionalStageIsCountedInTheResultAndTheReport() throws Exception {
    List<TeacherOutput> records = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      records.add(TestRecords.record(String.format("rec-%02d", i), text(i)));
    }
    List<Integer> near = new ArrayList<>(text(0));
    near.set(40, (near.get(40) + 1) % 60);
    records.add(TestRecords.record("zz-near-of-00", near)); // near-duplicate of rec-00
    records.add(TestRecords.record("rec-01", text(1))); // exact duplicate
    List<Integer> whole = text(77);
    records.add(chunk("chunked", whole.subList(0, 33), 0, 2));
    records.add(chunk("chunked", whole.subList(32, 64), 1, 2));
    records.add(chunk("lost", text(78).subList(0, 20), 0, 3)); // chunks 1, 2 never came
    TeacherOutput hot = TestRecords.record("hot", text(79));
    records.add(
        TeacherOutput.newBuilder(hot)
            .setStats(
                dev.distill.schemas.avro.LabelStats.newBuilder(hot.getStats())
                    .setMeanEntropy(9f)
                    .build())
            .build());
    // An evaluation set sharing 13 tokens with rec-05.
    List<Integer> evalTokens = new ArrayList<>(text(500).subList(0, 20));
    evalTokens.addAll(text(5).subList(10, 23));
    Path eval = tmp.resolve("eval-set");
    TestRecords.raw(spark, List.of(TestRecords.record("eval-0", evalTokens)))
        .write()
        .parquet(eval.toString());
    Path input = writeRaw("raw-options", records, 2);
    Path output = tmp.resolve("curated-options");
    Path report = tmp.resolve("report-options.json");
    CurateOptions options =
        CurateOptions.defaults()
            .withNearDuplicates(
                dev.distill.spark.transforms.NearDuplicates.Params.withThreshold(0.8))
            .withLogitFilters(
                List.of(dev.distill.spark.transforms.LogitFilters.Filter.parse("mean_entropy<=5")))
            .withDecontamination(
                new dev.distill.spark.transforms.Decontamination.Params(13, eval.toString(), false))
            .withWeights(dev.distill.spark.transforms.ExampleWeights.Params.entropy(1.0));

    CurateResult r =
        CurateJob.run(
            new CurateConfig(input.toString(), output.toString(), report.toString(), 0.0, null)
                .withOptions(options));

    assertThat(r.input()).isEqualTo(36);
    assertThat(r.rejectedByReason()).containsOnly(java.util.Map.entry("INCOMPLETE_CHUNKS", 1L));
    assertThat(r.chunkRowsMerged()).isEqualTo(1);
    assertThat(r.duplicates()).isEqualTo(1);
    assertThat(r.filtered()).containsOnly(java.util.Map.entry("mean_entropy<=5.0", 1L));
    assertThat(r.nearDuplicates()).isEqualTo(1);
    assertThat(r.contaminated()).isEqualTo(1);
    assertThat(r.kept()).isEqualTo(30); // 29 rec-* (rec-05 contaminated) + chunked
    assertThat(
            r.kept()
                + r.rejected()
                + r.duplicates()
                + r.chunkRowsMerged()
                + r.filteredTotal()
                + r.nearDuplicates()
                + r.contaminated())
        .isEqualTo(r.input());
    List<Row> rows = spark.read().parquet(output.toString()).collectAsList();
    assertThat(rows)
        .extracting(x -> x.<String>getAs("exampleId"))
        .contains("rec-00", "chunked")
        .doesNotContain("zz-near-of-00", "rec-05", "hot", "lost");
    Row chunked =
        rows.stream().filter(x -> x.getAs("exampleId").equals("chunked")).findFirst().orElseThrow();
    assertThat(chunked.getList(chunked.fieldIndex("tokens"))).containsExactlyElementsOf(whole);
    assertThat(rows.stream().mapToDouble(x -> x.<Float>getAs("weight")).average().orElseThrow())
        .isCloseTo(1.0, org.assertj.core.api.Assertions.within(1e-3));

    JsonNode json = new ObjectMapper().readTree(report.toFile());
    assertThat(json.get("near_duplicates").asLong()).isEqualTo(1);
    assertThat(json.get("contaminated").asLong()).isEqualTo(1);
    assertThat(json.get("chunk_rows_merged").asLong()).isEqualTo(1);
    assertThat(json.get("filtered").get("mean_entropy<=5.0").asLong()).isEqualTo(1);
    assertThat(json.get("distributions").get("mean_entropy").get("q1.0").asDouble()).isEqualTo(9.0);
    assertThat(json.get("filters").get(0).get("threshold").asDouble()).isEqualTo(5.0);
  }

  /** Spark jobs started, as the event log records them. */
  static final class JobCounter extends org.apache.spark.scheduler.SparkListener {
    final java.util.concurrent.atomic.AtomicInteger jobs =
        new java.util.concurrent.atomic.AtomicInteger();

    @Override
    public void onJobStart(org.apache.spark.scheduler.SparkListenerJobStart e) {
      jobs.incrementAndGet();
    }
  }

  @Test
  void fullCurationWithNearDuplicatesRunsAtMostTenSparkJobs() throws Exception {
    // Issue 14: counts ride on passes that run anyway; no job exists only to feed the report.
    // The 10: schema inference, scan, dedupe shuffle, two at the cached examples, band shuffle,
    // pairs, candidates' tokens, dropped locators, write (spark-jobs README).
    List<TeacherOutput> records = new ArrayList<>(mixedBatch());
    List<Integer> near = new ArrayList<>(text(0));
    near.set(40, (near.get(40) + 1) % 60);
    records.add(TestRecords.record("zz-a", text(0)));
    records.add(TestRecords.record("zz-near-of-a", near));
    Path input = writeRaw("raw-jobs", records, 2);
    CurateOptions options =
        CurateOptions.defaults()
            .withNearDuplicates(
                dev.distill.spark.transforms.NearDuplicates.Params.withThreshold(0.8))
            .withLogitFilters(
                List.of(
                    dev.distill.spark.transforms.LogitFilters.Filter.parse("mean_entropy<=q0.99")))
            .withWeights(dev.distill.spark.transforms.ExampleWeights.Params.entropy(1.0));
    JobCounter counter = new JobCounter();
    spark.sparkContext().listenerBus().waitUntilEmpty();
    spark.sparkContext().addSparkListener(counter);
    CurateResult r;
    try {
      r =
          CurateJob.run(
              new CurateConfig(
                      input.toString(),
                      tmp.resolve("curated-jobs").toString(),
                      tmp.resolve("report-jobs.json").toString(),
                      0.1,
                      null)
                  .withOptions(options));
      spark.sparkContext().listenerBus().waitUntilEmpty();
    } finally {
      spark.sparkContext().removeSparkListener(counter);
    }
    assertThat(r.nearDuplicates()).isEqualTo(1);
    assertThat(r.rejected()).isEqualTo(2);
    assertThat(counter.jobs.get()).isLessThanOrEqualTo(10);
  }
}
