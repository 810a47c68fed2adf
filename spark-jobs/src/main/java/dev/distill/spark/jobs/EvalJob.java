package dev.distill.spark.jobs;

import static org.apache.spark.sql.functions.col;

import dev.distill.spark.transforms.SplitAssignment;
import dev.distill.spark.transforms.StudentEvaluation;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Student predictions joined with teacher outputs (curated Parquet) to student-vs-teacher metrics
 * per slice ({@link StudentEvaluation}): all, length bucket, source. Writes the metrics as Parquet
 * ({@code <output>/}, overwritten: idempotent) and a report JSON; prints the output path.
 */
public final class EvalJob {
  /**
   * @param teacherPath curated Parquet (CurateJob's output)
   * @param predictionsPath student predictions Parquet ({@link StudentEvaluation#PREDICTIONS})
   * @param outputPath metrics Parquet folder
   * @param reportPath report JSON file
   * @param split curated split to evaluate on, or null for every row
   * @param lengthBuckets ascending bucket edges in positions
   * @param master Spark master; null means the active or spark-submit session's master
   */
  public record Config(
      String teacherPath,
      String predictionsPath,
      String outputPath,
      String reportPath,
      String split,
      int[] lengthBuckets,
      String master) {
    public Config {
      IngestConfig.requireText("teacherPath", teacherPath);
      IngestConfig.requireText("predictionsPath", predictionsPath);
      IngestConfig.requireText("outputPath", outputPath);
      IngestConfig.requireText("reportPath", reportPath);
      if (split != null && !Set.of("train", "val").contains(split)) {
        throw new IllegalArgumentException("split must be train, val or null, got " + split);
      }
      lengthBuckets = lengthBuckets.clone();
      for (int i = 0; i < lengthBuckets.length; i++) {
        if (lengthBuckets[i] <= 0 || (i > 0 && lengthBuckets[i] <= lengthBuckets[i - 1])) {
          throw new IllegalArgumentException(
              "length buckets must be positive and ascending: " + Arrays.toString(lengthBuckets));
        }
      }
      if (outputPath.equals(teacherPath) || outputPath.equals(predictionsPath)) {
        throw new IllegalArgumentException("outputPath must differ from the inputs");
      }
    }
  }

  /**
   * @param positions teacher positions evaluated
   * @param scored positions with a valid student prediction
   * @param orphans student rows with no teacher position
   * @param metrics one row per (slice, value): slice, value, positions, scored, top1_agreement,
   *     forward_kl_mean and the decision counts
   */
  public record Result(
      long positions, long scored, long orphans, List<Row> metrics, String outputPath) {}

  private EvalJob() {}

  public static Result run(Config config) {
    return Sessions.run(
        "distill-eval",
        config.master(),
        null,
        "evaluation of " + config.predictionsPath() + " against " + config.teacherPath(),
        spark -> evaluate(spark, config));
  }

  private static Result evaluate(SparkSession spark, Config config) throws Exception {
    Dataset<Row> teacher = spark.read().parquet(config.teacherPath());
    if (config.split() != null) {
      teacher = teacher.where(col(SplitAssignment.SPLIT).equalTo(config.split()));
    }
    Dataset<Row> predictions =
        spark.read().parquet(config.predictionsPath()).select(predictionColumns());
    Dataset<Row> positions =
        StudentEvaluation.teacherPositions(teacher, config.lengthBuckets())
            .persist(StorageLevel.MEMORY_AND_DISK());
    Dataset<Row> scored =
        StudentEvaluation.score(positions, predictions).persist(StorageLevel.MEMORY_AND_DISK());
    try {
      long orphans = StudentEvaluation.orphans(positions, predictions).count();
      Dataset<Row> metrics =
          StudentEvaluation.metrics(scored, null)
              .unionByName(StudentEvaluation.metrics(scored, StudentEvaluation.LENGTH_BUCKET))
              .unionByName(StudentEvaluation.metrics(scored, StudentEvaluation.SOURCE))
              .orderBy(col("slice"), col("value"))
              .coalesce(1);
      metrics.write().mode("overwrite").option("compression", "zstd").parquet(config.outputPath());
      List<Row> rows = spark.read().parquet(config.outputPath()).collectAsList();
      Row all = rows.stream().filter(r -> "all".equals(r.getAs("slice"))).findFirst().orElse(null);
      long total = all == null ? 0 : all.<Long>getAs("positions");
      long ok = all == null ? 0 : all.<Long>getAs("scored");
      Result result = new Result(total, ok, orphans, rows, config.outputPath());
      writeReport(spark, config, result);
      return result;
    } finally {
      scored.unpersist();
      positions.unpersist();
    }
  }

  private static org.apache.spark.sql.Column[] predictionColumns() {
    return Arrays.stream(StudentEvaluation.PREDICTIONS.fieldNames())
        .map(n -> col(n))
        .toArray(org.apache.spark.sql.Column[]::new);
  }

  private static void writeReport(SparkSession spark, Config config, Result r) throws Exception {
    List<Map<String, Object>> slices = new ArrayList<>();
    for (Row m : r.metrics()) {
      Map<String, Object> s = ReportJson.object();
      s.put("slice", m.getAs("slice"));
      s.put("value", String.valueOf((Object) m.getAs("value")));
      s.put("positions", m.getAs("positions"));
      s.put("scored", m.getAs("scored"));
      s.put("top1_agreement", ReportJson.finite(m.getAs("top1_agreement")));
      s.put("forward_kl_mean", ReportJson.finite(m.getAs("forward_kl_mean")));
      s.put("missing_prediction", m.getAs(StudentEvaluation.MISSING_PREDICTION));
      s.put("missing_teacher_id", m.getAs(StudentEvaluation.MISSING_TEACHER_ID));
      s.put("bad_logprobs", m.getAs(StudentEvaluation.BAD_LOGPROBS));
      slices.add(s);
    }
    Map<String, Object> j = ReportJson.object();
    j.put("positions", r.positions());
    j.put("scored", r.scored());
    j.put("orphan_predictions", r.orphans());
    j.put("split", config.split());
    j.put("kl", "KL(teacher || student) on the teacher's top-k + tail, nats per position");
    j.put("slices", slices);
    j.put("output", r.outputPath());
    ReportJson.write(spark.sparkContext().hadoopConfiguration(), config.reportPath(), j);
  }

  public static void main(String[] args) {
    JobCli.main(new Cli(), args);
  }

  /** EvalJob's command line. */
  static final class Cli extends JobCli.JobCommand<Config> {
    @Option(
        names = "--teacher",
        required = true,
        paramLabel = "CURATED_DIR",
        description = "Curated Parquet (CurateJob's output).")
    String teacher;

    @Option(
        names = "--predictions",
        required = true,
        paramLabel = "PARQUET_DIR",
        description = "Student predictions Parquet.")
    String predictions;

    @Mixin JobCli.OutputAndReport out;

    @Option(
        names = "--split",
        paramLabel = "val|train|all",
        defaultValue = "val",
        description = "Curated split to evaluate on (default ${DEFAULT-VALUE}).")
    String split;

    @Option(
        names = "--length-buckets",
        paramLabel = "64,256,1024",
        split = ",",
        defaultValue = "64,256,1024",
        description = "Ascending bucket edges in positions (default ${DEFAULT-VALUE}).")
    int[] lengthBuckets;

    @Override
    void run(Config config) throws Exception {
      Result r = EvalJob.run(config);
      System.err.printf(
          "positions %d, scored %d, orphan predictions %d%n",
          r.positions(), r.scored(), r.orphans());
      System.out.println(r.outputPath());
    }

    @Override
    Config config() {
      return new Config(
          teacher,
          predictions,
          out.output.dir,
          out.report,
          split.equals("all") ? null : split,
          lengthBuckets,
          null);
    }
  }
}
