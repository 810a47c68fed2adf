package dev.distill.spark.jobs;

import dev.distill.spark.transforms.CuratedProjection;
import dev.distill.spark.transforms.Deduplication;
import dev.distill.spark.transforms.MixedProvenanceException;
import dev.distill.spark.transforms.ProvenanceGuard;
import dev.distill.spark.transforms.RecordValidation;
import dev.distill.spark.transforms.SplitAssignment;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;

/**
 * Raw Parquet to curated Parquet: validate every row with the schemas rules (rejects counted by
 * reason), refuse mixed provenance, drop exact token duplicates, split train/val by a hash of the
 * record id, and write zstd Parquet partitioned by {@code split} with {@code _SUCCESS}, plus a
 * report JSON.
 *
 * <p>The input is read through Spark, so a streaming sink's {@code _spark_metadata} log is
 * honoured; corrupt files are never skipped: the job fails and its message names the file.
 */
public final class CurateJob {
  static final String USAGE =
      "usage: CurateJob --input DIR --output DIR --report FILE [--val-fraction F (default 0.1)]";

  private CurateJob() {}

  public static CurateResult run(CurateConfig config) {
    try (Sessions.Handle session = Sessions.open("distill-curate", config.master())) {
      SparkSession spark = session.spark();
      Dataset<Row> annotated = null;
      Dataset<Row> curated = null;
      try {
        annotated =
            RecordValidation.annotate(spark.read().parquet(config.inputPath()))
                .persist(StorageLevel.MEMORY_AND_DISK());
        long input = 0;
        long rejected = 0;
        Map<String, Long> byReason = new TreeMap<>();
        for (Row r : annotated.groupBy(RecordValidation.REJECT_REASON).count().collectAsList()) {
          long n = r.getLong(1);
          input += n;
          if (!r.isNullAt(0)) {
            rejected += n;
            byReason.put(r.getString(0), n);
          }
        }
        Dataset<Row> valid =
            ProvenanceGuard.requireSingleProvenance(RecordValidation.valid(annotated));
        curated =
            CuratedProjection.toCurated(
                    SplitAssignment.assign(
                        Deduplication.dropDuplicateTokens(valid), config.valFraction()))
                .persist(StorageLevel.MEMORY_AND_DISK());
        SplitAssignment.Counts counts = SplitAssignment.count(curated);
        long train = counts.train();
        long val = counts.val();
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        Path success = new Path(config.outputPath(), "_SUCCESS");
        FileSystem outFs = success.getFileSystem(hadoop);
        outFs.delete(success, false);
        curated
            .write()
            .mode("overwrite")
            .option("partitionOverwriteMode", "dynamic")
            .option("compression", "zstd")
            .partitionBy(SplitAssignment.SPLIT)
            .parquet(config.outputPath());
        // Dynamic overwrite replaces only the splits written now: clear a split left empty.
        if (train == 0) {
          deleteSplit(hadoop, config.outputPath(), SplitAssignment.TRAIN);
        }
        if (val == 0) {
          deleteSplit(hadoop, config.outputPath(), SplitAssignment.VAL);
        }
        // With dynamic partition overwrite the committer's _SUCCESS stays in its staging folder.
        outFs.create(success, true).close();
        long kept = train + val;
        CurateResult result =
            new CurateResult(
                input,
                kept,
                rejected,
                byReason,
                input - rejected - kept,
                train,
                val,
                config.outputPath());
        writeText(hadoop, config.reportPath(), reportJson(result));
        return result;
      } catch (MixedProvenanceException e) {
        throw e;
      } catch (Exception e) {
        throw new IllegalStateException(
            "curation of " + config.inputPath() + " failed: " + describe(e), e);
      } finally {
        if (curated != null) {
          curated.unpersist();
        }
        if (annotated != null) {
          annotated.unpersist();
        }
      }
    }
  }

  private static void deleteSplit(Configuration hadoop, String output, String split)
      throws IOException {
    Path dir = new Path(output, SplitAssignment.SPLIT + "=" + split);
    FileSystem fs = dir.getFileSystem(hadoop);
    if (fs.exists(dir) && !fs.delete(dir, true)) {
      throw new IOException("cannot delete stale " + dir);
    }
  }

  /** The messages of a cause chain (Spark's name the file that failed), deduplicated. */
  static String describe(Throwable e) {
    Set<String> parts = new LinkedHashSet<>();
    for (Throwable t = e; t != null && parts.size() < 8; t = t.getCause()) {
      if (t.getMessage() != null) {
        parts.add(t.getMessage().strip());
      }
    }
    return String.join(" <- caused by: ", parts);
  }

  /**
   * The curation report: {input, kept, rejected, rejected_by_reason, duplicates, splits, output}.
   */
  static String reportJson(CurateResult r) {
    List<String> reasons = new ArrayList<>();
    new TreeMap<>(r.rejectedByReason())
        .forEach((k, v) -> reasons.add("    " + quote(k) + ": " + v));
    return "{\n"
        + "  \"input\": "
        + r.input()
        + ",\n"
        + "  \"kept\": "
        + r.kept()
        + ",\n"
        + "  \"rejected\": "
        + r.rejected()
        + ",\n"
        + "  \"rejected_by_reason\": {"
        + (reasons.isEmpty() ? "" : "\n" + String.join(",\n", reasons) + "\n  ")
        + "},\n"
        + "  \"duplicates\": "
        + r.duplicates()
        + ",\n"
        + "  \"splits\": {\"train\": "
        + r.train()
        + ", \"val\": "
        + r.val()
        + "},\n"
        + "  \"output\": "
        + quote(r.outputPath())
        + "\n}\n";
  }

  static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }

  private static void writeText(Configuration hadoop, String path, String text) throws IOException {
    Path p = new Path(path);
    try (OutputStream out = p.getFileSystem(hadoop).create(p, true)) {
      out.write(text.getBytes(StandardCharsets.UTF_8));
    }
  }

  public static void main(String[] args) {
    int code =
        Args.exitCode(
            USAGE,
            () -> {
              CurateResult result = run(parse(args));
              System.err.printf(
                  "input %d, kept %d (train %d, val %d), rejected %d %s, duplicates %d%n",
                  result.input(),
                  result.kept(),
                  result.train(),
                  result.val(),
                  result.rejected(),
                  result.rejectedByReason(),
                  result.duplicates());
              System.out.println(result.outputPath());
            });
    if (code != 0) {
      System.exit(code);
    }
  }

  static CurateConfig parse(String[] args) {
    Args a = Args.parse(args, Set.of("input", "output", "report", "val-fraction"), Set.of());
    double fraction;
    String f = a.optional("val-fraction", String.valueOf(CurateConfig.DEFAULT_VAL_FRACTION));
    try {
      fraction = Double.parseDouble(f);
    } catch (NumberFormatException e) {
      throw new Args.UsageException("--val-fraction wants a number, got " + f);
    }
    return new CurateConfig(
        a.required("input"), a.required("output"), a.required("report"), fraction, null);
  }
}
