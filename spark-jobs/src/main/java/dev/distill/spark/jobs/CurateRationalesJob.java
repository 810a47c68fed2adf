package dev.distill.spark.jobs;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.when;

import dev.distill.spark.transforms.RationaleCuration;
import dev.distill.spark.transforms.SplitAssignment;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Observation;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Teacher outputs with sampled rationales (nested {@code TeacherOutput} Parquet, as teacher-service
 * writes in batch mode) -> curated Parquet of the kept rationales ({@code split=train|val}, zstd,
 * {@code _SUCCESS}) and a report of every rationale's decision (see {@link RationaleCuration}).
 *
 * <p>How it runs (issue 14): one scan of the three provenance columns (the refusal comes before
 * anything is written), then one read-and-write: each prompt's rationales are decided from its own
 * row (no shuffle, nothing cached), and every count of the report (prompts, decisions, splits) is
 * observed on that write ({@code Dataset.observe}). With the Parquet schema inference of the input
 * that is 3 Spark jobs (the old job ran 13 or more: distinct values, counts, a self-join, two
 * cached wide datasets). The write has {@code max(cores, ceil(input bytes / target))} tasks (a
 * {@code coalesce}: the rows are not shuffled), each writing one file per split.
 */
public final class CurateRationalesJob {
  /** The provenance columns one output may not mix. */
  private static final List<String> PROVENANCE =
      List.of("provenance.tokenizerSha256", "provenance.teacherSha256", "provenance.temperature");

  /** The most distinct provenance triples one task reports (more already means mixed). */
  private static final int DISTINCT_PER_TASK = 16;

  /**
   * The job's settings.
   *
   * @param targetFileMb the size each output file aims at, in MiB
   * @param maxRecordsPerFile a cap on the rows of one output file (0: none)
   */
  public record Config(
      String inputPath,
      String outputPath,
      String reportPath,
      double valFraction,
      RationaleCuration.Options options,
      String master,
      int targetFileMb,
      long maxRecordsPerFile) {
    public Config {
      for (String p : new String[] {inputPath, outputPath, reportPath}) {
        if (p == null || p.isBlank()) {
          throw new IllegalArgumentException("input, output and report paths are required");
        }
      }
      if (!(valFraction > 0 && valFraction < 1)) {
        throw new IllegalArgumentException("valFraction must be in (0, 1), got " + valFraction);
      }
      Objects.requireNonNull(options, "options");
      OutputFiles.requireValid(targetFileMb, maxRecordsPerFile);
    }

    /** Output files of {@link OutputFiles#DEFAULT_TARGET_MB}, no row cap. */
    public Config(
        String inputPath,
        String outputPath,
        String reportPath,
        double valFraction,
        RationaleCuration.Options options,
        String master) {
      this(
          inputPath,
          outputPath,
          reportPath,
          valFraction,
          options,
          master,
          OutputFiles.DEFAULT_TARGET_MB,
          0);
    }
  }

  /** Counts: prompts read, rationales by decision, examples per split. */
  public record Result(
      long prompts, long rationales, Map<String, Long> decisions, long train, long val) {
    public long kept() {
      return train + val;
    }
  }

  private CurateRationalesJob() {}

  public static Result run(Config config) {
    return Sessions.run(
        "distill-curate-rationales",
        config.master(),
        null,
        "rationale curation of " + config.inputPath(),
        spark -> curate(spark, config));
  }

  private static Result curate(SparkSession spark, Config config) throws Exception {
    Configuration hadoop = spark.sparkContext().hadoopConfiguration();
    ParquetInput input = ParquetInput.resolve(hadoop, "--input", config.inputPath());
    for (String w : input.warnings()) {
      System.err.println("warning: " + w);
    }
    Dataset<Row> teacherOutputs = input.read(spark);
    requireSingleProvenance(teacherOutputs, config.inputPath());

    Observation promptStats = new Observation("curate-rationales-prompts");
    Observation decisionStats = new Observation("curate-rationales-decisions");
    Observation splitStats = new Observation("curate-rationales-splits");
    Column decision = col(RationaleCuration.DECISION);
    List<Column> byDecision = new ArrayList<>();
    for (String d : RationaleCuration.DECISIONS) {
      byDecision.add(count(when(decision.equalTo(d), 1)).as(d));
    }
    Column split = col(SplitAssignment.SPLIT);
    Dataset<Row> curated =
        RationaleCuration.toCurated(
                RationaleCuration.annotate(
                        teacherOutputs.observe(promptStats, count(lit(1)).as("prompts")),
                        config.options())
                    .observe(
                        decisionStats,
                        byDecision.get(0),
                        byDecision.subList(1, byDecision.size()).toArray(new Column[0])),
                config.valFraction())
            .observe(
                splitStats,
                count(when(split.equalTo(SplitAssignment.TRAIN), 1)).as("train"),
                count(when(split.equalTo(SplitAssignment.VAL), 1)).as("val"));

    Path success = new Path(config.outputPath(), "_SUCCESS");
    FileSystem fs = success.getFileSystem(hadoop);
    fs.delete(new Path(config.outputPath()), true); // a re-run replaces the whole output
    // With nothing kept the output is a folder with _SUCCESS only: a complete, empty result.
    curated
        .coalesce(
            OutputFiles.tasks(
                input.bytes(),
                config.targetFileMb() * 1024L * 1024L,
                spark.sparkContext().defaultParallelism()))
        .write()
        .mode("overwrite")
        .option("compression", "zstd")
        .option("maxRecordsPerFile", config.maxRecordsPerFile())
        .partitionBy(SplitAssignment.SPLIT)
        .parquet(config.outputPath());
    fs.mkdirs(new Path(config.outputPath()));
    fs.create(success, true).close();

    Map<String, Object> decided = decisionStats.getAsJava();
    Map<String, Long> decisions = new TreeMap<>();
    long rationales = 0;
    for (String d : RationaleCuration.DECISIONS) {
      long n = ((Number) decided.get(d)).longValue();
      rationales += n;
      if (n > 0) {
        decisions.put(d, n);
      }
    }
    Map<String, Object> splits = splitStats.getAsJava();
    Result result =
        new Result(
            ((Number) promptStats.getAsJava().get("prompts")).longValue(),
            rationales,
            decisions,
            ((Number) splits.get("train")).longValue(),
            ((Number) splits.get("val")).longValue());
    ReportJson.write(hadoop, config.reportPath(), json(result, config.outputPath()));
    return result;
  }

  /**
   * Refuses an input that mixes tokenizers, teachers or temperatures, in one Spark job without a
   * shuffle: each task keeps the distinct provenance triples of its rows (Parquet reads just these
   * columns; at most {@value #DISTINCT_PER_TASK} a task), the driver compares them.
   */
  private static void requireSingleProvenance(Dataset<Row> input, String inputPath) {
    Dataset<Row> provenance =
        input.select(PROVENANCE.stream().map(c -> col(c)).toArray(Column[]::new));
    List<Row> distinct =
        provenance
            .mapPartitions(
                (MapPartitionsFunction<Row, Row>)
                    rows -> {
                      Set<Row> seen = new LinkedHashSet<>();
                      while (rows.hasNext() && seen.size() < DISTINCT_PER_TASK) {
                        seen.add(rows.next());
                      }
                      return seen.iterator();
                    },
                Encoders.row(provenance.schema()))
            .collectAsList();
    for (int i = 0; i < PROVENANCE.size(); i++) {
      int column = i;
      Set<String> values = new TreeSet<>();
      distinct.forEach(r -> values.add(String.valueOf(r.get(column))));
      if (values.size() > 1) {
        throw new JobFailedException(
            "refusing to mix "
                + PROVENANCE.get(i)
                + " values in one output: "
                + values.stream().limit(5).collect(Collectors.joining(", "))
                + " in "
                + inputPath
                + ": curate each teacher's outputs into its own folder.");
      }
    }
  }

  static Map<String, Object> json(Result r, String output) {
    Map<String, Object> j = ReportJson.object();
    j.put("prompts", r.prompts());
    j.put("rationales", r.rationales());
    j.put("decisions", r.decisions());
    j.put("kept", r.kept());
    Map<String, Object> splits = ReportJson.object();
    splits.put("train", r.train());
    splits.put("val", r.val());
    j.put("splits", splits);
    j.put("output", output);
    return j;
  }

  public static void main(String[] args) {
    JobCli.main(new Cli(), args);
  }

  /** CurateRationalesJob's command line. */
  static final class Cli extends JobCli.JobCommand<Config> {
    @Mixin JobCli.Input input;
    @Mixin JobCli.OutputAndReport out;
    @Mixin JobCli.ValFraction valFraction;
    @Mixin JobCli.OutputFileSizes files;

    @Option(
        names = "--min-chars",
        paramLabel = "N",
        defaultValue = "1",
        description = "Shortest rationale kept (default ${DEFAULT-VALUE}).")
    int minChars;

    @Option(
        names = "--max-chars",
        paramLabel = "N",
        defaultValue = "100000",
        description = "Longest rationale kept (default ${DEFAULT-VALUE}).")
    int maxChars;

    @Option(
        names = "--require-gold",
        arity = "1",
        paramLabel = "true|false",
        defaultValue = "true",
        description =
            "Drop prompts whose majority answer differs from the gold answer (default ${DEFAULT-VALUE}).")
    boolean requireGold;

    @Override
    void run(Config c) throws Exception {
      Result r = CurateRationalesJob.run(c);
      System.err.println("rationales " + r.rationales() + " decisions " + r.decisions());
      System.out.println(c.outputPath());
    }

    @Override
    Config config() {
      return new Config(
          input.dir,
          out.output.dir,
          out.report,
          valFraction.value,
          new RationaleCuration.Options(minChars, maxChars, requireGold),
          null,
          files.targetFileMb,
          files.maxRecordsPerFile);
    }
  }
}
