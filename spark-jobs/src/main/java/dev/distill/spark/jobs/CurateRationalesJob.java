package dev.distill.spark.jobs;

import static org.apache.spark.sql.functions.col;

import dev.distill.spark.transforms.RationaleCuration;
import dev.distill.spark.transforms.SplitAssignment;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Teacher outputs with sampled rationales (nested {@code TeacherOutput} Parquet, as teacher-service
 * writes in batch mode) -> curated Parquet of the kept rationales ({@code split=train|val}, zstd,
 * {@code _SUCCESS}) and a report of every rationale's decision (see {@link RationaleCuration}).
 */
public final class CurateRationalesJob {
  /** The job's settings. */
  public record Config(
      String inputPath,
      String outputPath,
      String reportPath,
      double valFraction,
      RationaleCuration.Options options,
      String master) {
    public Config {
      for (String p : new String[] {inputPath, outputPath, reportPath}) {
        if (p == null || p.isBlank()) {
          throw new IllegalArgumentException("input, output and report paths are required");
        }
      }
      if (!(valFraction > 0 && valFraction < 1)) {
        throw new IllegalArgumentException("valFraction must be in (0, 1), got " + valFraction);
      }
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
    try (Sessions.Handle session = Sessions.open("distill-curate-rationales", config.master())) {
      SparkSession spark = session.spark();
      Dataset<Row> input =
          ParquetInput.resolve(
                  spark.sparkContext().hadoopConfiguration(), "--input", config.inputPath())
              .read(spark);
      requireSingle(input, "provenance.tokenizerSha256");
      requireSingle(input, "provenance.teacherSha256");
      requireSingle(input, "provenance.temperature");
      Dataset<Row> annotated =
          RationaleCuration.annotate(input, config.options())
              .persist(StorageLevel.MEMORY_AND_DISK());
      try {
        long prompts = input.count();
        Map<String, Long> decisions = new TreeMap<>();
        long rationales = 0;
        for (Row r : annotated.groupBy(RationaleCuration.DECISION).count().collectAsList()) {
          decisions.put(r.getString(0), r.getLong(1));
          rationales += r.getLong(1);
        }
        Dataset<Row> curated =
            RationaleCuration.toCurated(annotated, config.valFraction())
                .persist(StorageLevel.MEMORY_AND_DISK());
        SplitAssignment.Counts counts = SplitAssignment.count(curated);
        long train = counts.train();
        long val = counts.val();
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        Path success = new Path(config.outputPath(), "_SUCCESS");
        FileSystem fs = success.getFileSystem(hadoop);
        fs.delete(new Path(config.outputPath()), true); // a re-run replaces the whole output
        // With nothing kept the output is an empty folder with _SUCCESS: a complete, empty result.
        fs.mkdirs(new Path(config.outputPath()));
        if (train + val > 0) {
          curated
              .write()
              .mode("overwrite")
              .option("compression", "zstd")
              .partitionBy(SplitAssignment.SPLIT)
              .parquet(config.outputPath());
        }
        curated.unpersist();
        fs.create(success, true).close();
        Result result = new Result(prompts, rationales, decisions, train, val);
        ReportJson.write(hadoop, config.reportPath(), json(result, config.outputPath()));
        return result;
      } catch (JobFailedException e) {
        throw e;
      } catch (IOException | RuntimeException e) {
        throw Failures.of("rationale curation of " + config.inputPath(), e);
      } finally {
        annotated.unpersist();
      }
    }
  }

  private static void requireSingle(Dataset<Row> input, String column) {
    List<Row> distinct = input.select(col(column)).distinct().limit(5).collectAsList();
    if (distinct.size() > 1) {
      throw new IllegalStateException(
          "refusing to mix "
              + column
              + " values in one output: "
              + distinct.stream()
                  .map(r -> String.valueOf(r.get(0)))
                  .collect(Collectors.joining(", ")));
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
          null);
    }
  }
}
