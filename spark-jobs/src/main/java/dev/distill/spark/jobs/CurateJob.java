package dev.distill.spark.jobs;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sum;

import dev.distill.spark.transforms.ChunkReassembly;
import dev.distill.spark.transforms.CuratedProjection;
import dev.distill.spark.transforms.Decontamination;
import dev.distill.spark.transforms.Deduplication;
import dev.distill.spark.transforms.ExampleWeights;
import dev.distill.spark.transforms.LogitFilters;
import dev.distill.spark.transforms.MixedProvenanceException;
import dev.distill.spark.transforms.NearDuplicates;
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
      "usage: CurateJob --input DIR --output DIR --report FILE [--val-fraction F (default 0.1)]\n"
          + "  [--run-id ID (writes OUTPUT/run_id=ID/split=..., re-runs replace only that run)]\n"
          + "  [--near-dup-threshold J [--near-dup-ngram 5] [--near-dup-hashes 120]"
          + " [--near-dup-bands 20]]\n"
          + "  [--filter 'mean_entropy<=q0.99']... (columns: mean_entropy, mean_top1_margin,"
          + " mean_topk_mass, label_outside_topk_rate; >= or <=; a value or qP)\n"
          + "  [--decontaminate-against PARQUET_DIR|val [--decontaminate-ngram 13]]\n"
          + "  [--weights uniform|entropy [--weight-tau 1.0]]";

  private CurateJob() {}

  public static CurateResult run(CurateConfig config) {
    try (Sessions.Handle session = Sessions.open("distill-curate", config.master())) {
      SparkSession spark = session.spark();
      CurateOptions opt = config.options();
      List<Dataset<Row>> cached = new ArrayList<>();
      try {
        Dataset<Row> annotated =
            keep(cached, RecordValidation.annotate(spark.read().parquet(config.inputPath())));
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

        // Chunked records -> one example each (or rejected as a whole).
        Dataset<Row> reassembled = keep(cached, ChunkReassembly.reassemble(valid));
        long examples = 0;
        long chunkRowsMerged = 0;
        for (Row r :
            reassembled
                .groupBy(ChunkReassembly.CHUNK_REJECT)
                .agg(count(lit(1)), sum(ChunkReassembly.CHUNK_ROWS))
                .collectAsList()) {
          long n = r.getLong(1);
          long rows = r.getLong(2);
          if (r.isNullAt(0)) {
            examples += n;
            chunkRowsMerged += rows - n;
          } else {
            rejected += rows;
            byReason.merge(r.getString(0), rows, Long::sum);
          }
        }

        Dataset<Row> deduped =
            keep(cached, Deduplication.dropDuplicateTokens(ChunkReassembly.examples(reassembled)));
        long afterDedupe = deduped.count();

        // Distributions of the summary columns before filtering (and quantile thresholds).
        Map<String, Map<Double, Double>> distributions =
            LogitFilters.quantiles(deduped, LogitFilters.quantilesNeeded(opt.logitFilters()));
        List<LogitFilters.Resolved> resolved =
            LogitFilters.resolve(opt.logitFilters(), distributions);
        Map<String, Long> filtered = new TreeMap<>();
        Dataset<Row> passed = deduped;
        long afterFilters = afterDedupe;
        if (!resolved.isEmpty()) {
          Dataset<Row> decided = keep(cached, LogitFilters.annotate(deduped, resolved));
          for (LogitFilters.Resolved f : resolved) {
            filtered.put(f.filter().name(), 0L);
          }
          for (Row r : decided.groupBy(LogitFilters.DECISION).count().collectAsList()) {
            if (!r.isNullAt(0)) {
              filtered.put(r.getString(0), r.getLong(1));
              afterFilters -= r.getLong(1);
            }
          }
          passed = LogitFilters.passed(decided);
        }

        Dataset<Row> unique = passed;
        long nearDuplicates = 0;
        if (opt.nearDuplicates() != null) {
          Dataset<Row> keyed = NearDuplicates.withKey(passed);
          Dataset<Row> sigs = keep(cached, NearDuplicates.signatures(keyed, opt.nearDuplicates()));
          unique = keep(cached, NearDuplicates.dropKeyed(keyed, sigs, opt.nearDuplicates()));
          nearDuplicates = afterFilters - unique.count();
        }

        Dataset<Row> split = SplitAssignment.assign(unique, config.valFraction());
        long contaminated = 0;
        if (opt.decontamination() != null) {
          Decontamination.Params d = opt.decontamination();
          split = keep(cached, split);
          Dataset<Row> eval =
              d.againstVal()
                  ? split.where(col(SplitAssignment.SPLIT).equalTo(SplitAssignment.VAL))
                  : spark.read().parquet(d.evalPath());
          Dataset<Row> evalNgrams = keep(cached, Decontamination.ngrams(eval, d.ngram()));
          Dataset<Row> train =
              split.where(col(SplitAssignment.SPLIT).equalTo(SplitAssignment.TRAIN));
          Dataset<Row> dirty = Decontamination.split(train, evalNgrams, d.ngram(), true);
          contaminated = dirty.count();
          Dataset<Row> clean = Decontamination.split(train, evalNgrams, d.ngram(), false);
          split =
              clean.unionByName(
                  split.where(col(SplitAssignment.SPLIT).equalTo(SplitAssignment.VAL)));
        }

        Dataset<Row> curated =
            keep(cached, CuratedProjection.toCurated(ExampleWeights.assign(split, opt.weights())));
        SplitAssignment.Counts counts = SplitAssignment.count(curated);
        long train = counts.train();
        long val = counts.val();
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        Path success = new Path(config.outputPath(), "_SUCCESS");
        // With a run id the run's own folder gets one too: it is what a reader is pointed at.
        Path runSuccess = new Path(config.splitsRoot(), "_SUCCESS");
        FileSystem outFs = success.getFileSystem(hadoop);
        outFs.delete(success, false);
        outFs.delete(runSuccess, false);
        Dataset<Row> toWrite =
            config.runId() == null
                ? curated
                : curated.withColumn(CurateConfig.RUN_PARTITION, lit(config.runId()));
        String[] partitions =
            config.runId() == null
                ? new String[] {SplitAssignment.SPLIT}
                : new String[] {CurateConfig.RUN_PARTITION, SplitAssignment.SPLIT};
        toWrite
            .write()
            .mode("overwrite")
            .option("partitionOverwriteMode", "dynamic")
            .option("compression", "zstd")
            .partitionBy(partitions)
            .parquet(config.outputPath());
        // Dynamic overwrite replaces only the partitions written now (other run ids stay): clear
        // a split of this run left empty.
        if (train == 0) {
          deleteSplit(hadoop, config.splitsRoot(), SplitAssignment.TRAIN);
        }
        if (val == 0) {
          deleteSplit(hadoop, config.splitsRoot(), SplitAssignment.VAL);
        }
        // With dynamic partition overwrite the committer's _SUCCESS stays in its staging folder.
        outFs.create(runSuccess, true).close();
        outFs.create(success, true).close();
        CurateResult result =
            new CurateResult(
                input,
                train + val,
                rejected,
                byReason,
                examples - afterDedupe,
                train,
                val,
                config.splitsRoot(),
                chunkRowsMerged,
                filtered,
                nearDuplicates,
                contaminated);
        writeText(hadoop, config.reportPath(), reportJson(result, distributions, resolved, opt));
        return result;
      } catch (MixedProvenanceException e) {
        throw e;
      } catch (Exception e) {
        throw new IllegalStateException(
            "curation of " + config.inputPath() + " failed: " + describe(e), e);
      } finally {
        for (Dataset<Row> d : cached) {
          d.unpersist();
        }
      }
    }
  }

  private static Dataset<Row> keep(List<Dataset<Row>> cached, Dataset<Row> d) {
    Dataset<Row> p = d.persist(StorageLevel.MEMORY_AND_DISK());
    cached.add(p);
    return p;
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

  /** The report of a run with no optional stage (no distributions). */
  static String reportJson(CurateResult r) {
    return reportJson(r, Map.of(), List.of(), CurateOptions.defaults());
  }

  /**
   * The curation report: {input, kept, rejected, rejected_by_reason, duplicates, chunk_rows_merged,
   * filtered, near_duplicates, contaminated, splits, distributions (quantiles of each summary
   * column before the logit filters), filters (with resolved thresholds), options, output}.
   */
  static String reportJson(
      CurateResult r,
      Map<String, Map<Double, Double>> distributions,
      List<LogitFilters.Resolved> filters,
      CurateOptions opt) {
    StringBuilder b = new StringBuilder("{\n");
    b.append("  \"input\": ").append(r.input()).append(",\n");
    b.append("  \"kept\": ").append(r.kept()).append(",\n");
    b.append("  \"rejected\": ").append(r.rejected()).append(",\n");
    b.append("  \"rejected_by_reason\": ").append(counts(r.rejectedByReason())).append(",\n");
    b.append("  \"duplicates\": ").append(r.duplicates()).append(",\n");
    b.append("  \"chunk_rows_merged\": ").append(r.chunkRowsMerged()).append(",\n");
    b.append("  \"filtered\": ").append(counts(r.filtered())).append(",\n");
    b.append("  \"near_duplicates\": ").append(r.nearDuplicates()).append(",\n");
    b.append("  \"contaminated\": ").append(r.contaminated()).append(",\n");
    b.append("  \"splits\": {\"train\": ")
        .append(r.train())
        .append(", \"val\": ")
        .append(r.val())
        .append("},\n");
    List<String> dist = new ArrayList<>();
    distributions.forEach(
        (column, qs) -> {
          List<String> parts = new ArrayList<>();
          qs.forEach((q, v) -> parts.add(quote("q" + q) + ": " + number(v)));
          dist.add("    " + quote(column) + ": {" + String.join(", ", parts) + "}");
        });
    b.append("  \"distributions\": {")
        .append(dist.isEmpty() ? "" : "\n" + String.join(",\n", dist) + "\n  ")
        .append("},\n");
    List<String> fs = new ArrayList<>();
    for (LogitFilters.Resolved f : filters) {
      fs.add(
          "    {\"name\": "
              + quote(f.filter().name())
              + ", \"threshold\": "
              + number(f.threshold())
              + ", \"dropped\": "
              + r.filtered().getOrDefault(f.filter().name(), 0L)
              + "}");
    }
    b.append("  \"filters\": [")
        .append(fs.isEmpty() ? "" : "\n" + String.join(",\n", fs) + "\n  ")
        .append("],\n");
    b.append("  \"options\": {")
        .append("\"near_duplicates\": ")
        .append(opt.nearDuplicates() == null ? "null" : quote(opt.nearDuplicates().toString()))
        .append(", \"decontamination\": ")
        .append(opt.decontamination() == null ? "null" : quote(opt.decontamination().toString()))
        .append(", \"weights\": ")
        .append(quote(opt.weights().toString()))
        .append("},\n");
    b.append("  \"output\": ").append(quote(r.outputPath())).append("\n}\n");
    return b.toString();
  }

  private static String counts(Map<String, Long> m) {
    List<String> parts = new ArrayList<>();
    new TreeMap<>(m).forEach((k, v) -> parts.add("    " + quote(k) + ": " + v));
    return "{" + (parts.isEmpty() ? "" : "\n" + String.join(",\n", parts) + "\n  ") + "}";
  }

  private static String number(double v) {
    return Double.isFinite(v) ? Double.toString(v) : "null";
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
                  "input %d, kept %d (train %d, val %d), rejected %d %s, duplicates %d,"
                      + " chunk rows merged %d, filtered %s, near-duplicates %d,"
                      + " contaminated %d%n",
                  result.input(),
                  result.kept(),
                  result.train(),
                  result.val(),
                  result.rejected(),
                  result.rejectedByReason(),
                  result.duplicates(),
                  result.chunkRowsMerged(),
                  result.filtered(),
                  result.nearDuplicates(),
                  result.contaminated());
              System.out.println(result.outputPath());
            });
    if (code != 0) {
      System.exit(code);
    }
  }

  static CurateConfig parse(String[] args) {
    Args a =
        Args.parse(
            args,
            Set.of(
                "input",
                "output",
                "report",
                "val-fraction",
                "near-dup-threshold",
                "near-dup-ngram",
                "near-dup-hashes",
                "near-dup-bands",
                "decontaminate-against",
                "decontaminate-ngram",
                "weights",
                "weight-tau",
                "run-id"),
            Set.of("filter"));
    double fraction = number(a, "val-fraction", String.valueOf(CurateConfig.DEFAULT_VAL_FRACTION));
    CurateOptions opt = CurateOptions.defaults();
    String threshold = a.optional("near-dup-threshold", null);
    if (threshold != null) {
      NearDuplicates.Params d =
          NearDuplicates.Params.withThreshold(number(a, "near-dup-threshold", threshold));
      opt =
          opt.withNearDuplicates(
              new NearDuplicates.Params(
                  (int) number(a, "near-dup-ngram", String.valueOf(d.ngram())),
                  (int) number(a, "near-dup-hashes", String.valueOf(d.numHashes())),
                  (int) number(a, "near-dup-bands", String.valueOf(d.bands())),
                  d.threshold(),
                  d.maxBucketSize()));
    }
    List<LogitFilters.Filter> filters = new ArrayList<>();
    for (String spec : a.all("filter")) {
      filters.add(LogitFilters.Filter.parse(spec));
    }
    opt = opt.withLogitFilters(filters);
    String against = a.optional("decontaminate-against", null);
    if (against != null) {
      int n = (int) number(a, "decontaminate-ngram", String.valueOf(Decontamination.DEFAULT_NGRAM));
      opt =
          opt.withDecontamination(
              against.equals("val")
                  ? new Decontamination.Params(n, null, true)
                  : new Decontamination.Params(n, against, false));
    }
    ExampleWeights.Scheme scheme = ExampleWeights.Scheme.parse(a.optional("weights", "uniform"));
    if (scheme == ExampleWeights.Scheme.ENTROPY) {
      opt = opt.withWeights(ExampleWeights.Params.entropy(number(a, "weight-tau", "1.0")));
    }
    return new CurateConfig(
        a.required("input"),
        a.required("output"),
        a.required("report"),
        fraction,
        null,
        opt,
        a.optional("run-id", null));
  }

  private static double number(Args a, String key, String fallback) {
    String v = a.optional(key, fallback);
    try {
      return Double.parseDouble(v);
    } catch (NumberFormatException e) {
      throw new Args.UsageException("--" + key + " wants a number, got " + v);
    }
  }
}
