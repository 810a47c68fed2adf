package dev.distill.spark.jobs;

import static org.apache.spark.sql.functions.avg;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.explode;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.row_number;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.udf;
import static org.apache.spark.sql.functions.when;

import dev.distill.spark.transforms.ChunkReassembly;
import dev.distill.spark.transforms.CuratedProjection;
import dev.distill.spark.transforms.CurationFeatures;
import dev.distill.spark.transforms.Decontamination;
import dev.distill.spark.transforms.Deduplication;
import dev.distill.spark.transforms.ExampleWeights;
import dev.distill.spark.transforms.LogitFilters;
import dev.distill.spark.transforms.MixedProvenanceException;
import dev.distill.spark.transforms.NearDuplicates;
import dev.distill.spark.transforms.ProvenanceGuard;
import dev.distill.spark.transforms.RawColumns;
import dev.distill.spark.transforms.RecordValidation;
import dev.distill.spark.transforms.SplitAssignment;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.FlatMapGroupsFunction;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.expressions.WindowSpec;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.storage.StorageLevel;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

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
  private CurateJob() {}

  public static CurateResult run(CurateConfig config) {
    try (Sessions.Handle session =
        Sessions.open("distill-curate", config.master(), config.eventLogDir())) {
      SparkSession spark = session.spark();
      CurateOptions opt = config.options();
      List<Dataset<Row>> cached = new ArrayList<>();
      Configuration hadoop = spark.sparkContext().hadoopConfiguration();
      ParquetInput input = ParquetInput.resolve(hadoop, "--input", config.inputPath());
      for (String w : input.warnings()) {
        System.err.println("warning: " + w);
      }
      try {
        // 1. One pass over the wide rows: validate (the only decode of the soft labels) and keep
        //    narrow rows with a locator of each input row. Only narrow rows are cached.
        Dataset<Row> rawRead = input.read(spark);
        Map<String, Integer> files = fileNumbers(rawRead.inputFiles());
        Dataset<Row> scanned =
            keep(cached, CurationFeatures.scan(withLocatorColumns(rawRead), files));
        long inputRows = 0;
        long rejected = 0;
        Map<String, Long> byReason = new TreeMap<>();
        // One job: rejects by reason, and the provenance of the valid rows (the guard).
        Column[] sets = ProvenanceGuard.sets();
        for (Row r :
            scanned
                .groupBy(RecordValidation.REJECT_REASON)
                .agg(count(lit(1)), sets[0], sets[1], sets[2])
                .collectAsList()) {
          long n = r.getLong(1);
          inputRows += n;
          if (!r.isNullAt(0)) {
            rejected += n;
            byReason.put(r.getString(0), n);
          } else {
            ProvenanceGuard.require(r.getList(2), r.getList(3), r.getList(4));
          }
        }
        Dataset<Row> valid = RecordValidation.valid(scanned);

        // 2. Chunked records -> one example each (or rejected as a whole), on narrow rows.
        Dataset<Row> reassembled =
            keep(
                cached,
                CurationFeatures.features(CurationFeatures.examples(valid), opt.nearDuplicates()));
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

        // 3. Exact dedupe on the content hash, then the quantiles and filters, all narrow.
        Dataset<Row> deduped =
            keep(
                cached,
                dropDuplicates(reassembled.where(col(ChunkReassembly.CHUNK_REJECT).isNull())));
        long afterDedupe = deduped.count();
        // One aggregation for every reported and every needed quantile of the four columns.
        Map<String, Map<Double, Double>> distributions =
            LogitFilters.quantiles(deduped, LogitFilters.quantilesNeeded(opt.logitFilters()));
        List<LogitFilters.Resolved> resolved =
            LogitFilters.resolve(opt.logitFilters(), distributions);
        Map<String, Long> filtered = new TreeMap<>();
        Dataset<Row> passed = deduped;
        long afterFilters = afterDedupe;
        if (!resolved.isEmpty()) {
          Dataset<Row> decided = LogitFilters.annotate(deduped, resolved);
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

        // 4. Near-duplicates: one shuffle on the band keys; only candidate pairs are verified.
        Dataset<Row> unique = passed;
        long nearDuplicates = 0;
        if (opt.nearDuplicates() != null) {
          Dataset<Row> dropped =
              keep(
                  cached,
                  NearDuplicates.verifiedPairs(passed, opt.nearDuplicates())
                      .select(col("b").as(NearDuplicates.KEY))
                      .distinct());
          nearDuplicates = dropped.count();
          unique = passed.join(dropped, NearDuplicates.KEY, "left_anti");
        }

        // 5. Split and decontamination, narrow.
        Dataset<Row> split =
            SplitAssignment.assign(
                unique.drop(NearDuplicates.KEY, NearDuplicates.BANDS), config.valFraction());
        long contaminated = 0;
        if (opt.decontamination() != null) {
          Decontamination.Params d = opt.decontamination();
          split = keep(cached, split);
          Dataset<Row> eval =
              d.againstVal()
                  ? split.where(col(SplitAssignment.SPLIT).equalTo(SplitAssignment.VAL))
                  : ParquetInput.resolve(hadoop, "--decontaminate-against", d.evalPath())
                      .read(spark);
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

        // 6. One aggregation: split sizes and the weights' mean; then the locators to drop.
        Dataset<Row> kept = keep(cached, split);
        Row totals =
            kept.agg(
                    sum(
                        when(col(SplitAssignment.SPLIT).equalTo(SplitAssignment.TRAIN), 1L)
                            .otherwise(0L)),
                    sum(
                        when(col(SplitAssignment.SPLIT).equalTo(SplitAssignment.VAL), 1L)
                            .otherwise(0L)),
                    avg(ExampleWeights.unnormalized(opt.weights())))
                .first();
        long train = totals.isNullAt(0) ? 0 : totals.getLong(0);
        long val = totals.isNullAt(1) ? 0 : totals.getLong(1);
        double weightMean = totals.isNullAt(2) ? 1.0 : totals.getDouble(2);
        long[] droppedLocators =
            scanned
                .select(col(CurationFeatures.LOC))
                .join(
                    kept.select(explode(col(CurationFeatures.LOCS)).as(CurationFeatures.LOC)),
                    CurationFeatures.LOC,
                    "left_anti")
                .as(Encoders.LONG())
                .collectAsList()
                .stream()
                .mapToLong(Long::longValue)
                .sorted()
                .toArray();

        // 7. The second and last pass over the wide rows: the kept ones, written.
        Dataset<Row> curated =
            CuratedProjection.toCurated(
                ExampleWeights.assign(
                    SplitAssignment.assign(
                        keptRows(spark, rawRead, files, droppedLocators), config.valFraction()),
                    opt.weights(),
                    weightMean));
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
        long keptRows = train + val;
        double estimatedBytes = inputRows == 0 ? 0 : (double) input.bytes() * keptRows / inputRows;
        // No shuffle of the wide rows: fewer, larger tasks (coalesce), each writing at most one
        // file per split, sized by the estimate of the output (input bytes per row kept).
        // (coalesce never adds tasks: fewer input partitions than this stay as they are)
        toWrite =
            toWrite.coalesce(
                OutputFiles.tasks(
                    estimatedBytes,
                    config.targetFileBytes(),
                    spark.sparkContext().defaultParallelism()));
        toWrite
            .write()
            .mode("overwrite")
            .option("partitionOverwriteMode", "dynamic")
            .option("compression", "zstd")
            .option("maxRecordsPerFile", config.maxRecordsPerFile())
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
                inputRows,
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
        ReportJson.write(
            hadoop,
            config.reportPath(),
            report(result, distributions, resolved, opt, input.warnings()));
        return result;
      } catch (MixedProvenanceException | JobFailedException e) {
        throw e;
      } catch (Exception e) {
        throw Failures.of("curation of " + config.inputPath(), e);
      } finally {
        for (Dataset<Row> d : cached) {
          d.unpersist();
        }
      }
    }
  }

  /** The raw rows plus the file and row index of each ({@code _metadata}), as strings/longs. */
  private static Dataset<Row> withLocatorColumns(Dataset<Row> raw) {
    return RawColumns.normalize(
        raw.select(
            col("*"),
            col("_metadata.file_path").as(CurationFeatures.FILE),
            col("_metadata.row_index").as(CurationFeatures.ROW)),
        CurationFeatures.FILE,
        CurationFeatures.ROW);
  }

  private static Map<String, Integer> fileNumbers(String[] paths) {
    Map<String, Integer> m = new java.util.HashMap<>();
    String[] sorted = paths.clone();
    java.util.Arrays.sort(sorted);
    for (int i = 0; i < sorted.length; i++) {
      m.put(sorted[i], i);
      m.put(sorted[i].replaceFirst("^([a-z0-9]+):/+", "$1:/"), i);
    }
    return m;
  }

  /** Exact dedupe on narrow example rows: the smallest record id per content hash survives. */
  private static Dataset<Row> dropDuplicates(Dataset<Row> rows) {
    WindowSpec byContent =
        Window.partitionBy(Deduplication.CONTENT_HASH)
            .orderBy(
                col(RawColumns.RECORD_ID).asc_nulls_last(),
                col(RawColumns.CHUNK_INDEX).asc_nulls_last(),
                col(RawColumns.KAFKA_PARTITION).asc_nulls_last(),
                col(RawColumns.KAFKA_OFFSET).asc_nulls_last(),
                col(CurationFeatures.LABELS_HASH).asc_nulls_last(),
                col(CurationFeatures.LOC).asc_nulls_last());
    return rows.withColumn("_dedupe_rank", row_number().over(byContent))
        .where(col("_dedupe_rank").equalTo(1))
        .drop("_dedupe_rank");
  }

  /**
   * The wide rows that make the kept examples: input rows whose locator is not dropped, chunked
   * records reassembled (only their rows move between tasks); raw layout.
   */
  private static Dataset<Row> keptRows(
      SparkSession spark, Dataset<Row> raw, Map<String, Integer> files, long[] dropped) {
    Broadcast<long[]> drop =
        JavaSparkContext.fromSparkContext(spark.sparkContext()).broadcast(dropped);
    UserDefinedFunction keepRow =
        udf(
            (UDF2<String, Long, Boolean>)
                (file, row) ->
                    java.util.Arrays.binarySearch(
                            drop.value(),
                            CurationFeatures.locator(
                                CurationFeatures.fileIndexOf(files, file), row))
                        < 0,
            DataTypes.BooleanType);
    UserDefinedFunction locator =
        udf(
            (UDF2<String, Long, Long>)
                (file, row) ->
                    CurationFeatures.locator(CurationFeatures.fileIndexOf(files, file), row),
            DataTypes.LongType);
    Dataset<Row> rows =
        withLocatorColumns(raw)
            .where(keepRow.apply(col(CurationFeatures.FILE), col(CurationFeatures.ROW)));
    Dataset<Row> single =
        rows.where(col(RawColumns.CHUNK_COUNT).leq(1))
            .select(RawColumns.names().stream().map(functions::col).toArray(Column[]::new));
    Column[] chunkCols =
        java.util.stream.Stream.concat(
                RawColumns.names().stream().map(functions::col),
                java.util.stream.Stream.of(
                    locator
                        .apply(col(CurationFeatures.FILE), col(CurationFeatures.ROW))
                        .as(CurationFeatures.LOC)))
            .toArray(Column[]::new);
    int idAt = RawColumns.SCHEMA.fieldIndex(RawColumns.RECORD_ID);
    Dataset<Row> multi =
        ChunkReassembly.examples(
            rows.where(col(RawColumns.CHUNK_COUNT).gt(1))
                .select(chunkCols)
                .groupByKey((MapFunction<Row, String>) r -> r.getString(idAt), Encoders.STRING())
                .flatMapGroups(
                    (FlatMapGroupsFunction<String, Row, Row>)
                        (id, it) -> List.of(ChunkReassembly.mergeRows(it)).iterator(),
                    Encoders.row(ChunkReassembly.OUT)));
    return single.unionByName(multi);
  }

  /** Caches a narrow dataset (never one holding soft-label bytes) for the steps that follow. */
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

  static String reportJson(
      CurateResult r,
      Map<String, Map<Double, Double>> distributions,
      List<LogitFilters.Resolved> filters,
      CurateOptions opt) {
    return reportJson(r, distributions, filters, opt, List.of());
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
      CurateOptions opt,
      List<String> warnings) {
    return ReportJson.toJson(report(r, distributions, filters, opt, warnings));
  }

  private static Map<String, Object> report(
      CurateResult r,
      Map<String, Map<Double, Double>> distributions,
      List<LogitFilters.Resolved> filters,
      CurateOptions opt,
      List<String> warnings) {
    Map<String, Object> j = ReportJson.object();
    j.put("input", r.input());
    j.put("kept", r.kept());
    j.put("rejected", r.rejected());
    j.put("rejected_by_reason", new TreeMap<>(r.rejectedByReason()));
    j.put("duplicates", r.duplicates());
    j.put("chunk_rows_merged", r.chunkRowsMerged());
    j.put("filtered", new TreeMap<>(r.filtered()));
    j.put("near_duplicates", r.nearDuplicates());
    j.put("contaminated", r.contaminated());
    Map<String, Object> splits = ReportJson.object();
    splits.put("train", r.train());
    splits.put("val", r.val());
    j.put("splits", splits);
    Map<String, Object> dist = ReportJson.object();
    distributions.forEach(
        (column, qs) -> {
          Map<String, Object> quantiles = ReportJson.object();
          qs.forEach((q, v) -> quantiles.put("q" + q, ReportJson.finite(v)));
          dist.put(column, quantiles);
        });
    j.put("distributions", dist);
    List<Map<String, Object>> fs = new ArrayList<>();
    for (LogitFilters.Resolved f : filters) {
      Map<String, Object> one = ReportJson.object();
      one.put("name", f.filter().name());
      one.put("threshold", ReportJson.finite(f.threshold()));
      one.put("dropped", r.filtered().getOrDefault(f.filter().name(), 0L));
      fs.add(one);
    }
    j.put("filters", fs);
    Map<String, Object> options = ReportJson.object();
    options.put(
        "near_duplicates", opt.nearDuplicates() == null ? null : opt.nearDuplicates().toString());
    options.put(
        "decontamination", opt.decontamination() == null ? null : opt.decontamination().toString());
    options.put("weights", opt.weights().toString());
    j.put("options", options);
    j.put("warnings", warnings);
    j.put("output", r.outputPath());
    return j;
  }

  public static void main(String[] args) {
    JobCli.main(new Cli(), args);
  }

  /** CurateJob's command line. */
  static final class Cli extends JobCli.JobCommand<CurateConfig> {
    @Mixin JobCli.Input input;
    @Mixin JobCli.OutputAndReport out;
    @Mixin JobCli.ValFraction valFraction;

    @Option(
        names = "--run-id",
        paramLabel = "ID",
        description = "Writes OUTPUT/run_id=ID/split=..., re-runs replace only that run.")
    String runId;

    @Option(
        names = "--near-dup-threshold",
        paramLabel = "J",
        description = "Drops near-duplicates at Jaccard >= J (MinHash LSH); off by default.")
    Double nearDupThreshold;

    @Option(
        names = "--near-dup-ngram",
        paramLabel = "N",
        description = "Shingle length in tokens, with --near-dup-threshold (default 5).")
    Integer nearDupNgram;

    @Option(
        names = "--near-dup-hashes",
        paramLabel = "N",
        description = "MinHash functions, with --near-dup-threshold (default 120).")
    Integer nearDupHashes;

    @Option(
        names = "--near-dup-bands",
        paramLabel = "N",
        description = "LSH bands, with --near-dup-threshold (default 20).")
    Integer nearDupBands;

    @Option(
        names = "--filter",
        paramLabel = "SPEC",
        description = {
          "Repeatable, e.g. 'mean_entropy<=q0.99' (columns: mean_entropy, mean_top1_margin,"
              + " mean_topk_mass, label_outside_topk_rate; >= or <=; a value or qP)."
        })
    List<String> filters = new ArrayList<>();

    @Option(
        names = "--decontaminate-against",
        paramLabel = "PARQUET_DIR|val",
        description = "Drops records sharing an n-gram with this Parquet folder or the val split.")
    String decontaminateAgainst;

    @Option(
        names = "--decontaminate-ngram",
        paramLabel = "N",
        defaultValue = "" + Decontamination.DEFAULT_NGRAM,
        description = "N-gram length, with --decontaminate-against (default ${DEFAULT-VALUE}).")
    int decontaminateNgram;

    @Option(
        names = "--weights",
        paramLabel = "uniform|entropy",
        defaultValue = "uniform",
        description = "Example weights (default ${DEFAULT-VALUE}).")
    String weights;

    @Option(
        names = "--weight-tau",
        paramLabel = "TAU",
        defaultValue = "1.0",
        description = "Temperature, with --weights entropy (default ${DEFAULT-VALUE}).")
    double weightTau;

    @Option(
        names = "--target-file-mb",
        paramLabel = "MB",
        defaultValue = "" + OutputFiles.DEFAULT_TARGET_MB,
        description =
            "Output file size aimed at; one file per split per task (default ${DEFAULT-VALUE}).")
    int targetFileMb;

    @Option(
        names = "--max-records-per-file",
        paramLabel = "N",
        defaultValue = "0",
        description = "Cap on records per output file; 0 = none (default ${DEFAULT-VALUE}).")
    long maxRecordsPerFile;

    @Option(
        names = "--event-log",
        paramLabel = "DIR|none",
        description = "Spark event log; default: the report's folder/spark-events.")
    String eventLog;

    @Override
    void run(CurateConfig config) throws Exception {
      CurateResult result = CurateJob.run(config);
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
    }

    @Override
    CurateConfig config() {
      CurateOptions opt = CurateOptions.defaults();
      if (nearDupThreshold != null) {
        NearDuplicates.Params d = NearDuplicates.Params.withThreshold(nearDupThreshold);
        opt =
            opt.withNearDuplicates(
                new NearDuplicates.Params(
                    nearDupNgram == null ? d.ngram() : nearDupNgram,
                    nearDupHashes == null ? d.numHashes() : nearDupHashes,
                    nearDupBands == null ? d.bands() : nearDupBands,
                    d.threshold(),
                    d.maxBucketSize()));
      }
      List<LogitFilters.Filter> parsed = new ArrayList<>();
      for (String spec : filters) {
        parsed.add(LogitFilters.Filter.parse(spec));
      }
      opt = opt.withLogitFilters(parsed);
      if (decontaminateAgainst != null) {
        opt =
            opt.withDecontamination(
                decontaminateAgainst.equals("val")
                    ? new Decontamination.Params(decontaminateNgram, null, true)
                    : new Decontamination.Params(decontaminateNgram, decontaminateAgainst, false));
      }
      if (ExampleWeights.Scheme.parse(weights) == ExampleWeights.Scheme.ENTROPY) {
        opt = opt.withWeights(ExampleWeights.Params.entropy(weightTau));
      }
      String events = eventLog;
      if (events == null) {
        Path parent = new Path(out.report).getParent();
        events = (parent == null ? "." : parent.toString()) + "/spark-events";
      } else if (events.equals("none")) {
        events = null;
      }
      return new CurateConfig(
          input.dir,
          out.output.dir,
          out.report,
          valFraction.value,
          null,
          opt,
          runId,
          targetFileMb,
          maxRecordsPerFile,
          events);
    }
  }
}
