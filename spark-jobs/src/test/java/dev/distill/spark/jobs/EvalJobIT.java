package dev.distill.spark.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.spark.TestRecords;
import dev.distill.spark.TestSpark;
import dev.distill.spark.transforms.CuratedProjection;
import dev.distill.spark.transforms.SplitAssignment;
import dev.distill.spark.transforms.StudentEvaluation;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** EvalJob on real Parquet: curated teacher outputs joined with student predictions. */
class EvalJobIT {
  private static SparkSession spark;

  @TempDir static Path tmp;

  @BeforeAll
  static void start() {
    spark = TestSpark.local("eval-it");
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  private static Row prediction(String id, int position, int top1, int[] ids, float[] probs) {
    List<Integer> i = new ArrayList<>();
    List<Float> l = new ArrayList<>();
    for (int j = 0; j < ids.length; j++) {
      i.add(ids[j]);
      l.add((float) Math.log(probs[j]));
    }
    return RowFactory.create(id, position, top1, i, l);
  }

  /** EvalJob through its command line, on every split. */
  private static EvalJob.Result evalAll(Path teacher, Path predictions, Path out, Path report) {
    return EvalJob.run(
        JobCli.parse(
            new EvalJob.Cli(),
            new String[] {
              "--teacher", teacher.toString(),
              "--predictions", predictions.toString(),
              "--output", out.toString(),
              "--report", report.toString(),
              "--split", "all"
            }));
  }

  @Test
  void agreementAndForwardKlPerLengthBucketWithEveryMissOrOrphanCounted() throws Exception {
    // Teacher at position p: ids (p, p+1) with 0.6, 0.3 and tail 0.1 (TestRecords).
    List<Integer> longTokens = new ArrayList<>();
    for (int t = 0; t < 100; t++) {
      longTokens.add(t % 50);
    }
    List<TeacherOutput> records =
        List.of(TestRecords.record("short", 1), TestRecords.record("long", longTokens));
    Path teacher = tmp.resolve("curated");
    CuratedProjection.toCurated(SplitAssignment.assign(TestRecords.raw(spark, records), 0.0))
        .write()
        .partitionBy(SplitAssignment.SPLIT)
        .parquet(teacher.toString());

    List<Row> preds = new ArrayList<>();
    // "short" (4 positions): the student equals the teacher.
    for (int p = 0; p < 4; p++) {
      preds.add(prediction("short", p, p, new int[] {p + 1, p}, new float[] {0.3f, 0.6f}));
    }
    // "long" (99 positions): position 0 lacks a teacher id, 1..97 swap the teacher's two
    // probabilities, 98 has no prediction.
    preds.add(prediction("long", 0, 0, new int[] {0, 7}, new float[] {0.6f, 0.3f}));
    for (int p = 1; p < 98; p++) {
      preds.add(prediction("long", p, p + 1, new int[] {p, p + 1}, new float[] {0.3f, 0.6f}));
    }
    preds.add(prediction("ghost", 0, 0, new int[] {0, 1}, new float[] {0.6f, 0.3f}));
    Path predictions = tmp.resolve("predictions");
    spark
        .createDataFrame(preds, StudentEvaluation.PREDICTIONS)
        .write()
        .parquet(predictions.toString());
    Path out = tmp.resolve("eval");
    Path report = tmp.resolve("eval.json");

    EvalJob.Result r = evalAll(teacher, predictions, out, report);

    assertThat(r.positions()).isEqualTo(103);
    assertThat(r.scored()).isEqualTo(101);
    assertThat(r.orphans()).isEqualTo(1);
    Map<String, Row> bySlice = new HashMap<>();
    for (Row m : r.metrics()) {
      bySlice.put(m.getAs("slice") + "=" + m.getAs("value"), m);
    }
    double swappedKl = 0.6 * Math.log(0.6 / 0.3) + 0.3 * Math.log(0.3 / 0.6);
    Row small = bySlice.get("length_bucket=[0,64)");
    assertThat(small.<Double>getAs("top1_agreement")).isEqualTo(1.0);
    assertThat(small.<Double>getAs("forward_kl_mean")).isCloseTo(0.0, within(1e-3));
    Row big = bySlice.get("length_bucket=[64,256)");
    assertThat(big.<Long>getAs("positions")).isEqualTo(99);
    assertThat(big.<Long>getAs("scored")).isEqualTo(97);
    assertThat(big.<Double>getAs("top1_agreement")).isEqualTo(0.0);
    assertThat(big.<Double>getAs("forward_kl_mean")).isCloseTo(swappedKl, within(3e-3));
    assertThat(big.<Long>getAs(StudentEvaluation.MISSING_PREDICTION)).isEqualTo(1);
    assertThat(big.<Long>getAs(StudentEvaluation.MISSING_TEACHER_ID)).isEqualTo(1);
    Row all = bySlice.get("all=all");
    assertThat(all.<Double>getAs("top1_agreement")).isCloseTo(4.0 / 101, within(1e-9));
    assertThat(all.<Double>getAs("forward_kl_mean")).isCloseTo(97 * swappedKl / 101, within(3e-3));
    assertThat(bySlice.get("source=test/train").<Long>getAs("positions")).isEqualTo(103);

    JsonNode json = new ObjectMapper().readTree(report.toFile());
    assertThat(json.get("orphan_predictions").asLong()).isEqualTo(1);
    assertThat(json.get("slices")).hasSize(4);
    assertThat(spark.read().parquet(out.toString()).count()).isEqualTo(4);

    // Re-running replaces the metrics instead of appending to them.
    evalAll(teacher, predictions, out, report);
    assertThat(spark.read().parquet(out.toString()).count()).isEqualTo(4);
  }

  @Test
  void forwardKlIsZeroForIdenticalDistributionsAndCountsTheTailBucket() {
    float[] p = {0.5f, 0.25f};
    assertThat(StudentEvaluation.forwardKl(p, 0.25f, new double[] {0.5, 0.25}))
        .isCloseTo(0.0, within(1e-9));
    // Same top-k mass but the student puts only 0.05 outside it.
    double kl = StudentEvaluation.forwardKl(p, 0.25f, new double[] {0.6, 0.35});
    double expected = 0.5 * Math.log(0.5 / 0.6) + 0.25 * Math.log(0.25 / 0.35) + 0.25 * Math.log(5);
    assertThat(kl).isCloseTo(expected, within(1e-6));
  }
}
