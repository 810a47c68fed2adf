package dev.distill.spark.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.spark.TestRecords;
import dev.distill.spark.TestSpark;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.execution.QueryExecution;
import org.apache.spark.sql.util.QueryExecutionListener;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CurateJob's single read of the soft labels (issue 14) against its two-pass run, on real Parquet:
 * a clean folder is curated with the labels read once (by the write) and the same output, counts
 * and report; a folder with invalid label bytes falls back and ends exactly as the two-pass run.
 */
class CurateSingleReadIT {
  private static SparkSession spark;

  @TempDir static Path tmp;

  private static final Pattern READ_SCHEMA = Pattern.compile("ReadSchema: (struct<[^\\n]*)");

  @BeforeAll
  static void start() {
    spark = TestSpark.local("curate-single-read-it");
    // Plans print ReadSchema cut at 100 characters by default: soft_labels comes after that.
    spark.conf().set("spark.sql.maxMetadataStringLength", "100000");
  }

  @AfterAll
  static void stop() {
    spark.conf().unset("spark.sql.maxMetadataStringLength");
    spark.stop();
  }

  /** 30 distinct records, 2 same-token duplicates; every record id distinct. */
  private static List<TeacherOutput> cleanBatch() {
    List<TeacherOutput> records = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      records.add(TestRecords.record(String.format("rec-%02d", i), 3000 + i));
    }
    records.add(TestRecords.record("zzz-dup-of-3", 3003));
    records.add(TestRecords.record("aaa-dup-of-4", 3004));
    return records;
  }

  private static TeacherOutput withTruncatedLabels(TeacherOutput r) {
    ByteBuffer b = r.getSoftLabels().duplicate();
    byte[] bytes = new byte[b.remaining() - 1];
    b.get(bytes);
    return TeacherOutput.newBuilder(r).setSoftLabels(ByteBuffer.wrap(bytes)).build();
  }

  private static String writeRaw(String name, List<TeacherOutput> records) {
    Path dir = tmp.resolve(name);
    TestRecords.raw(spark, records).repartition(2).write().parquet(dir.toString());
    return dir.toString();
  }

  /** A run and what it left: the result, the report without its output path, the plans, stderr. */
  private record Run(
      CurateResult result, ObjectNode report, String output, List<String> plans, String stderr) {}

  private static Run curate(String input, String name, boolean singleRead) throws Exception {
    String output = tmp.resolve("out-" + name).toString();
    Path report = tmp.resolve("report-" + name + ".json");
    List<String> plans = new CopyOnWriteArrayList<>();
    QueryExecutionListener listener =
        new QueryExecutionListener() {
          @Override
          public void onSuccess(String funcName, QueryExecution qe, long nanos) {
            plans.add(qe.executedPlan().toString());
          }

          @Override
          public void onFailure(String funcName, QueryExecution qe, Exception e) {}
        };
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream originalErr = System.err;
    spark.sparkContext().listenerBus().waitUntilEmpty();
    spark.listenerManager().register(listener);
    CurateResult r;
    try {
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      r = CurateJob.run(new CurateConfig(input, output, report.toString(), 0.3, null), singleRead);
      spark.sparkContext().listenerBus().waitUntilEmpty();
    } finally {
      System.setErr(originalErr);
      spark.listenerManager().unregister(listener);
    }
    ObjectNode json = (ObjectNode) new ObjectMapper().readTree(report.toFile());
    json.remove("output");
    return new Run(r, json, output, plans, err.toString(StandardCharsets.UTF_8));
  }

  /** The plans with a Parquet scan that reads {@code soft_labels}, and those without. */
  private static long plansReadingLabels(List<String> plans, boolean labels) {
    return plans.stream()
        .filter(
            p -> {
              Matcher m = READ_SCHEMA.matcher(p);
              boolean any = false;
              boolean withLabels = false;
              while (m.find()) {
                any = true;
                withLabels |= m.group(1).contains("soft_labels");
              }
              return any && withLabels == labels;
            })
        .count();
  }

  private static void assertSameOutput(Run a, Run b) {
    assertThat(a.result().input()).isEqualTo(b.result().input());
    assertThat(a.result().kept()).isEqualTo(b.result().kept());
    assertThat(a.result().rejected()).isEqualTo(b.result().rejected());
    assertThat(a.result().rejectedByReason()).isEqualTo(b.result().rejectedByReason());
    assertThat(a.result().duplicates()).isEqualTo(b.result().duplicates());
    assertThat(a.result().train()).isEqualTo(b.result().train());
    assertThat(a.result().val()).isEqualTo(b.result().val());
    assertThat(a.report()).isEqualTo(b.report());
    Dataset<Row> x = spark.read().parquet(a.output());
    Dataset<Row> y = spark.read().parquet(b.output());
    assertThat(x.count()).isEqualTo(a.result().kept());
    assertThat(x.exceptAll(y).count()).isZero();
    assertThat(y.exceptAll(x).count()).isZero();
  }

  @Test
  void cleanFolderReadsTheSoftLabelsOnceAndMatchesTheTwoPassRun() throws Exception {
    String input = writeRaw("raw-clean", cleanBatch());

    Run single = curate(input, "clean-single", true);
    Run twoPass = curate(input, "clean-two-pass", false);

    assertThat(single.result().kept()).isEqualTo(30);
    assertThat(single.result().duplicates()).isEqualTo(2);
    assertSameOutput(single, twoPass);
    assertThat(single.stderr()).doesNotContain("single read of the soft labels abandoned");
    // The first pass (and every decision on its cache) reads no soft_labels; only the write does.
    assertThat(plansReadingLabels(single.plans(), false)).isPositive();
    assertThat(plansReadingLabels(single.plans(), true)).isEqualTo(1);
    // The two-pass run's validating scan reads them too.
    assertThat(plansReadingLabels(twoPass.plans(), false)).isZero();
    assertThat(plansReadingLabels(twoPass.plans(), true)).isGreaterThan(1);
  }

  @Test
  void invalidSoftLabelBytesFallBackToTheTwoPassRunWithTheSameOutputAndCounts() throws Exception {
    List<TeacherOutput> records = cleanBatch();
    // A bad copy that sorts first among the rows with its tokens (it would survive the dedupe if
    // it were taken as valid) and a bad copy that sorts last (it would be a dropped duplicate, so
    // the write would never see it as a kept row).
    records.add(withTruncatedLabels(TestRecords.record("a-bad-first-of-7", 3007)));
    records.add(withTruncatedLabels(TestRecords.record("zzz-bad-last-of-8", 3008)));
    String input = writeRaw("raw-bad-labels", records);

    Run single = curate(input, "bad-single", true);
    Run twoPass = curate(input, "bad-two-pass", false);

    assertThat(single.result().rejected()).isEqualTo(2);
    assertThat(single.result().kept()).isEqualTo(30);
    assertSameOutput(single, twoPass);
    assertThat(single.stderr())
        .contains("single read of the soft labels abandoned (2 rows' soft labels not cleared");
    assertThat(twoPass.stderr()).doesNotContain("single read of the soft labels abandoned");
  }

  @Test
  void rowsRejectedBeforeTheLabelsAndRedeliveriesStayOnTheSingleReadWithTheSameOutput()
      throws Exception {
    List<TeacherOutput> records = cleanBatch();
    records.add(TestRecords.record("bad-token", List.of(1, 2, 3, 99999, 4)));
    TeacherOutput hot = TestRecords.record("bad-temp", 3500);
    records.add(
        TeacherOutput.newBuilder(hot)
            .setProvenance(
                dev.distill.schemas.avro.Provenance.newBuilder(hot.getProvenance())
                    .setTemperature(0f)
                    .build())
            .build());
    // A redelivery: same record id and tokens, no Kafka coordinates, the same labels.
    records.add(TestRecords.record("rec-05", 3005));
    String input = writeRaw("raw-before-labels", records);

    Run single = curate(input, "before-labels-single", true);
    Run twoPass = curate(input, "before-labels-two-pass", false);

    assertThat(single.result().rejectedByReason())
        .containsOnly(
            java.util.Map.entry("TOKEN_OUT_OF_VOCAB", 1L),
            java.util.Map.entry("NON_POSITIVE_TEMPERATURE", 1L));
    assertThat(single.result().duplicates()).isEqualTo(3);
    assertSameOutput(single, twoPass);
    assertThat(single.stderr()).doesNotContain("single read of the soft labels abandoned");
    assertThat(plansReadingLabels(single.plans(), true)).isEqualTo(1);
  }

  @Test
  void aRedeliveryWithOtherLabelsEndsAsTheTwoPassRun() throws Exception {
    List<TeacherOutput> records = cleanBatch();
    // Same record id and tokens as rec-06, other valid labels: the label-bytes hash decides
    // which one survives the dedupe in the two-pass run; the single read must agree or fall back.
    TeacherOutput r6 = TestRecords.record("rec-06", 3006);
    records.add(
        TeacherOutput.newBuilder(r6)
            .setSoftLabels(
                dev.distill.schemas.TestRecords.builder(
                        "rec-06",
                        r6.getTokens(),
                        dev.distill.schemas.TestRecords.twoIds(4, 3),
                        1.5f)
                    .getSoftLabels())
            .build());
    String input = writeRaw("raw-other-labels", records);

    Run single = curate(input, "other-labels-single", true);
    Run twoPass = curate(input, "other-labels-two-pass", false);

    assertThat(single.result().duplicates()).isEqualTo(3);
    assertSameOutput(single, twoPass);
  }
}
