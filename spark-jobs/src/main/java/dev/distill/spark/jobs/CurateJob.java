package dev.distill.spark.jobs;

import static org.apache.spark.sql.functions.avg;
import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.explode;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.row_number;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.udf;
import static org.apache.spark.sql.functions.when;

import dev.distill.schemas.validation.Reason;
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
import org.apache.spark.sql.Observation;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.api.java.UDF6;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.expressions.WindowSpec;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.LongAccumulator;
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

  static final String SHUFFLE_PARTITIONS = "spark.sql.shuffle.partitions";

  /** Open output files a write task may hold at once (0, Spark's default: sort, one at a time). */
  static final String CONCURRENT_WRITERS = "spark.sql.maxConcurrentOutputFileWriters";

  /**
   * In a local session this job created, {@value #SHUFFLE_PARTITIONS} = the default parallelism
   * (the core count) unless spark-submit or spark-defaults set it; a cluster keeps Spark's default,
   * where data may be large enough to need more partitions than cores. Spark's default, 200, makes
   * every map task of the three shuffles write 200 sorted blocks: at 20,000 records that cost 5x
   * the curation's CPU-seconds (issue 14, {@code bench/run.sh 20000 128 4 once shuffle=200,2},
   * spark-jobs README). A session the caller owns is left as it is.
   */
  static void shufflePartitionsToCores(SparkSession spark) {
    if (spark.sparkContext().isLocal()
        && !spark.sparkContext().getConf().contains(SHUFFLE_PARTITIONS)) {
      spark
          .conf()
          .set(SHUFFLE_PARTITIONS, Integer.toString(spark.sparkContext().defaultParallelism()));
    }
  }

  public static CurateResult run(CurateConfig config) {
    return run(config, true);
  }

  /**
   * {@link #run(CurateConfig)}; with {@code singleRead} false only the two-pass run (validation of
   * every row's soft labels before any decision), which the single read falls back to.
   */
  static CurateResult run(CurateConfig config, boolean singleRead) {
    try (Sessions.Handle session =
        Sessions.open("distill-curate", config.master(), config.eventLogDir())) {
      SparkSession spark = session.spark();
      if (session.created()) {
        shufflePartitionsToCores(spark);
      }
      Configuration hadoop = spark.sparkContext().hadoopConfiguration();
      ParquetInput input = ParquetInput.resolve(hadoop, "--input", config.inputPath());
      for (String w : input.warnings()) {
        System.err.println("warning: " + w);
      }
      // Read once for both runs: a fall-back does not infer the schema again.
      Dataset<Row> rawRead;
      try {
        rawRead = input.read(spark);
      } catch (Exception e) {
        throw Failures.of("curation of " + config.inputPath(), e);
      }
      if (singleRead) {
        CurateResult once = curate(spark, config, input, rawRead, true);
        if (once != null) {
          return once;
        }
      }
      return curate(spark, config, input, rawRead, false);
    }
  }

  /**
   * One curation. With {@code singleRead} (issue 14) the soft labels are read once: the first pass
   * reads the narrow columns only ({@link CurationFeatures#narrowScan}) and the write pass checks
   * the labels of every input row; it returns null (nothing committed: no {@code _SUCCESS}, the
   * splits it wrote deleted) when that run could decide differently from the two-pass one: a row
   * the narrow checks cannot clear, a chunked row, mixed provenance, a dedupe tie that the
   * label-bytes hash would break, or a row whose labels the write pass cannot clear. Without it,
   * the two-pass run: every row's labels are validated before any decision.
   */
  private static CurateResult curate(
      SparkSession spark,
      CurateConfig config,
      ParquetInput input,
      Dataset<Row> rawRead,
      boolean singleRead) {
    {
      CurateOptions opt = config.options();
      List<Dataset<Row>> cached = new ArrayList<>();
      Configuration hadoop = spark.sparkContext().hadoopConfiguration();
      try {
        // 1. One pass over the wide rows: validate (the only decode of the soft labels) and keep
        //    narrow rows with a locator of each input row. Only narrow rows are cached. The pass
        //    is one Spark job that collects the locators of the rejected rows; every count of
        //    validation, the provenance guard's check and whether any row is chunked ride on it
        //    (Dataset.observe, in the result stage, so a retried map task cannot count twice).
        Map<String, Integer> files = fileNumbers(rawRead.inputFiles());
        Dataset<Row> scanned =
            keep(
                cached,
                singleRead
                    ? CurationFeatures.narrowScan(
                        withLocatorColumns(rawRead), files, opt.nearDuplicates())
                    : CurationFeatures.scan(
                        withLocatorColumns(rawRead), files, opt.nearDuplicates()));
        Column reason = col(RecordValidation.REJECT_REASON);
        Column isValid = reason.isNull();
        List<Column> scanMetrics = new ArrayList<>();
        scanMetrics.add(count(lit(1)).as("input"));
        scanMetrics.add(count(reason).as("rejected"));
        scanMetrics.add(count(when(reason.equalTo(CurationFeatures.SUSPECT), 1)).as("suspect"));
        for (Reason r : Reason.values()) {
          scanMetrics.add(count(when(reason.equalTo(r.name()), 1)).as("reject_" + r.name()));
        }
        scanMetrics.add(
            count(when(isValid.and(col(RawColumns.CHUNK_COUNT).gt(1)), 1)).as("chunked"));
        Column[] provenance = ProvenanceGuard.keys();
        for (int i = 0; i < provenance.length; i++) {
          scanMetrics.add(min(when(isValid, provenance[i])).as("provenance_min_" + i));
          scanMetrics.add(max(when(isValid, provenance[i])).as("provenance_max_" + i));
        }
        Observation scanStats = new Observation("curate-scan");
        long[] rejectedLocators =
            longs(
                observe(scanned, scanStats, scanMetrics)
                    .where(reason.isNotNull())
                    .select(col(CurationFeatures.LOC)));
        Map<String, Object> scan = scanStats.getAsJava();
        long inputRows = number(scan, "input");
        long rejected = number(scan, "rejected");
        if (singleRead) {
          String why = null;
          long suspect = number(scan, "suspect");
          if (suspect > 0) {
            why = suspect + " rows need the validator on their soft labels";
          } else if (number(scan, "chunked") > 0) {
            why = "chunked rows (their reassembly is not on the single read)";
          } else {
            for (int i = 0; i < ProvenanceGuard.keys().length; i++) {
              if (!java.util.Objects.equals(
                  scan.get("provenance_min_" + i), scan.get("provenance_max_" + i))) {
                why = "mixed provenance (refused on the valid rows only)";
              }
            }
          }
          if (why != null) {
            fallBack(why);
            return null;
          }
        }
        Map<String, Long> byReason = new TreeMap<>();
        long known = 0;
        for (Reason r : Reason.values()) {
          long n = number(scan, "reject_" + r.name());
          known += n;
          if (n > 0) {
            byReason.put(r.name(), n);
          }
        }
        if (known != rejected) {
          // A reason outside the enum (cannot happen today): count by name, one job more.
          byReason.clear();
          for (Row r : scanned.where(reason.isNotNull()).groupBy(reason).count().collectAsList()) {
            byReason.put(r.getString(0), r.getLong(1));
          }
        }
        for (int i = 0; i < provenance.length; i++) {
          if (!java.util.Objects.equals(
              scan.get("provenance_min_" + i), scan.get("provenance_max_" + i))) {
            // Mixed: name every distinct value (one more job, then the refusal).
            Column[] sets = ProvenanceGuard.sets();
            Row seen = scanned.where(isValid).agg(sets[0], sets[1], sets[2]).first();
            ProvenanceGuard.require(seen.getList(0), seen.getList(1), seen.getList(2));
          }
        }
        boolean chunked = number(scan, "chunked") > 0;

        // 2. Examples (chunked records reassembled, and cached narrow: only when a row is
        //    chunked; single rows carry the features the scan computed, so they need no cache of
        //    their own) and the exact-dedupe decision. Each example carries a decision: null
        //    (kept so far) or why it is dropped; later steps only decide on undecided rows.
        Dataset<Row> exampleRows =
            CurationFeatures.examples(
                RecordValidation.valid(scanned), chunked, opt.nearDuplicates());
        if (chunked) {
          exampleRows = keep(cached, exampleRows);
        }
        // (first row's locator, tied duplicate's locator): single read only.
        List<long[]> ties = new ArrayList<>();
        Dataset<Row> decided = withDuplicates(spark, exampleRows, singleRead, ties);
        Column undecided = col(DECISION).isNull();
        Column chunkReject = col(ChunkReassembly.CHUNK_REJECT);
        Column chunkRows = col(ChunkReassembly.CHUNK_ROWS).cast("long");
        List<String> chunkReasons =
            List.of(ChunkReassembly.INCOMPLETE_CHUNKS, ChunkReassembly.CHUNK_MISMATCH);
        double[] probabilities =
            LogitFilters.probabilities(LogitFilters.quantilesNeeded(opt.logitFilters()));
        List<Column> exampleMetrics = new ArrayList<>();
        exampleMetrics.add(count(when(chunkReject.isNull(), 1)).as("examples"));
        exampleMetrics.add(sum(when(chunkReject.isNull(), chunkRows)).as("example_rows"));
        exampleMetrics.add(sum(when(chunkReject.isNotNull(), chunkRows)).as("chunk_rejected"));
        for (String r : chunkReasons) {
          exampleMetrics.add(sum(when(chunkReject.equalTo(r), chunkRows)).as("chunk_" + r));
        }
        exampleMetrics.add(count(when(col(DECISION).equalTo(DUPLICATE), 1)).as("duplicates"));
        // The summary values of the deduplicated examples are collected on this pass (16 bytes an
        // example) and their quantiles taken exactly on the driver: the same answer for any
        // partitioning and task order (percentile_approx's partial sketches were merged in
        // task-completion order, so the threshold could move between runs).
        Observation exampleStats = new Observation("curate-examples");
        List<Row> summaryBlocks =
            LogitFilters.summaryBlocks(observe(decided, exampleStats, exampleMetrics), undecided)
                .collectAsList();
        Map<String, Object> ex = exampleStats.getAsJava();
        long examples = number(ex, "examples");
        long chunkRowsMerged = number(ex, "example_rows") - examples;
        long chunkRejected = number(ex, "chunk_rejected");
        long chunkKnown = 0;
        for (String r : chunkReasons) {
          long n = number(ex, "chunk_" + r);
          chunkKnown += n;
          if (n > 0) {
            byReason.merge(r, n, Long::sum);
          }
        }
        if (chunkKnown != chunkRejected) {
          throw new IllegalStateException(
              "chunk reassembly rejected rows for a reason other than " + chunkReasons);
        }
        rejected += chunkRejected;
        long duplicates = number(ex, "duplicates");
        Map<String, Map<Double, Double>> distributions =
            LogitFilters.quantilesOf(summaryBlocks, probabilities);

        // 3. The logit filters, on the deduplicated examples (a column; no job).
        List<LogitFilters.Resolved> resolved =
            LogitFilters.resolve(opt.logitFilters(), distributions);
        Dataset<Row> annotated = decided;
        if (!resolved.isEmpty()) {
          annotated =
              annotated.withColumn(
                  DECISION, coalesce(col(DECISION), LogitFilters.decision(resolved)));
        }

        // 4. Near-duplicates among the examples still kept: one shuffle on the band keys; the
        //    candidate pairs and their rows' tokens are collected and verified on the driver.
        long nearDuplicates = 0;
        if (opt.nearDuplicates() != null) {
          java.util.SortedSet<String> near =
              NearDuplicates.droppedKeys(annotated.where(undecided), opt.nearDuplicates());
          nearDuplicates = near.size();
          annotated = decide(spark, annotated, undecided, near, NEAR_DUPLICATE);
        }

        // 5. Split (a column) and decontamination of the kept train examples.
        annotated = SplitAssignment.assign(annotated, config.valFraction());
        Column isTrain = col(SplitAssignment.SPLIT).equalTo(SplitAssignment.TRAIN);
        Column isVal = col(SplitAssignment.SPLIT).equalTo(SplitAssignment.VAL);
        if (opt.decontamination() != null) {
          Decontamination.Params d = opt.decontamination();
          Dataset<Row> eval =
              d.againstVal()
                  ? annotated.where(undecided.and(isVal))
                  : ParquetInput.resolve(hadoop, "--decontaminate-against", d.evalPath())
                      .read(spark);
          // The eval set's n-grams are collected (one job) and the decision is a column: it
          // rides on the pass below, which counts it.
          long[] evalNgrams = Decontamination.ngramSet(eval, d.ngram());
          annotated =
              annotated.withColumn(
                  DECISION,
                  when(
                          undecided
                              .and(isTrain)
                              .and(
                                  Decontamination.sharesNgram(spark, evalNgrams, d.ngram())
                                      .apply(col(RawColumns.TOKENS))),
                          lit(CONTAMINATED))
                      .otherwise(col(DECISION)));
        }

        // 6. One pass over the narrow examples: the locators of every dropped example are
        //    collected; split sizes, the weights' mean and the filter counts ride on it.
        List<Column> totalMetrics = new ArrayList<>();
        totalMetrics.add(count(when(undecided.and(isTrain), 1)).as("train"));
        totalMetrics.add(count(when(undecided.and(isVal), 1)).as("val"));
        totalMetrics.add(
            avg(when(undecided, ExampleWeights.unnormalized(opt.weights()))).as("weight_mean"));
        for (int i = 0; i < resolved.size(); i++) {
          totalMetrics.add(
              count(when(col(DECISION).equalTo(resolved.get(i).filter().name()), 1))
                  .as("filter_" + i));
        }
        totalMetrics.add(count(when(col(DECISION).equalTo(CONTAMINATED), 1)).as("contaminated"));
        Observation totalStats = new Observation("curate-totals");
        long[] droppedExampleLocators =
            longs(
                observe(annotated, totalStats, totalMetrics)
                    .where(col(DECISION).isNotNull())
                    .select(explode(col(CurationFeatures.LOCS))));
        Map<String, Object> totals = totalStats.getAsJava();
        long train = number(totals, "train");
        long val = number(totals, "val");
        long contaminated = number(totals, "contaminated");
        Object mean = totals.get("weight_mean");
        double weightMean = mean == null ? 1.0 : ((Number) mean).doubleValue();
        Map<String, Long> filtered = new TreeMap<>();
        for (int i = 0; i < resolved.size(); i++) {
          filtered.put(resolved.get(i).filter().name(), number(totals, "filter_" + i));
        }
        long[] droppedLocators =
            java.util.stream.LongStream.concat(
                    java.util.Arrays.stream(rejectedLocators),
                    java.util.Arrays.stream(droppedExampleLocators))
                .sorted()
                .toArray();

        // 7. The second and last pass over the wide rows: the kept ones, written. Every decision
        //    is in droppedLocators now: the narrow cache is released first, so the wide pass has
        //    the memory (at 200,000 records the write spent 1.6-10.9 s in GC with it held).
        for (Dataset<Row> d : cached) {
          d.unpersist(true);
        }
        LongAccumulator nullLabels = spark.sparkContext().longAccumulator("curate: null labels");
        LongAccumulator uncleared =
            spark.sparkContext().longAccumulator("curate: labels not cleared by the fast check");
        org.apache.spark.util.CollectionAccumulator<long[]> tieHashes =
            spark.sparkContext().collectionAccumulator("curate: labels hashes of tied rows");
        Dataset<Row> curated =
            CuratedProjection.toCurated(
                ExampleWeights.assign(
                    SplitAssignment.assign(
                        singleRead
                            ? keptRowsCheckingLabels(
                                spark,
                                rawRead,
                                files,
                                droppedLocators,
                                rejectedLocators,
                                tiedLocators(ties),
                                nullLabels,
                                uncleared,
                                tieHashes)
                            : keptRows(spark, rawRead, files, droppedLocators, chunked),
                        config.valFraction()),
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
        // Spark sorts each write task's rows by the partition columns before writing them (a sort
        // of the wide rows, soft labels included) unless concurrent output writers are on: then a
        // task keeps one open file per split (at most 2 here) and writes rows as they come, the
        // same one file per split per task. Set while the write is planned, unless the session
        // already sets it; restored after.
        org.apache.spark.sql.RuntimeConfig sqlConf = spark.conf();
        boolean ownWriters = !sqlConf.contains(CONCURRENT_WRITERS);
        if (ownWriters) {
          sqlConf.set(CONCURRENT_WRITERS, "2");
        }
        try {
          toWrite
              .write()
              .mode("overwrite")
              .option("partitionOverwriteMode", "dynamic")
              .option("compression", "zstd")
              .option("maxRecordsPerFile", config.maxRecordsPerFile())
              .partitionBy(partitions)
              .parquet(config.outputPath());
        } finally {
          if (ownWriters) {
            sqlConf.unset(CONCURRENT_WRITERS);
          }
        }
        if (singleRead && (nullLabels.value() > 0 || uncleared.value() > 0)) {
          // Discard what was written (no _SUCCESS was created) and let the two-pass run decide.
          deleteSplit(hadoop, config.splitsRoot(), SplitAssignment.TRAIN);
          deleteSplit(hadoop, config.splitsRoot(), SplitAssignment.VAL);
          fallBack(
              (nullLabels.value() + uncleared.value())
                  + " rows' soft labels not cleared by the write pass ("
                  + nullLabels.value()
                  + " null)");
          return null;
        }
        if (singleRead && !sameSurvivors(ties, tieHashes.value())) {
          deleteSplit(hadoop, config.splitsRoot(), SplitAssignment.TRAIN);
          deleteSplit(hadoop, config.splitsRoot(), SplitAssignment.VAL);
          fallBack(
              "rows with the same tokens, record id, chunk and Kafka coordinates but different"
                  + " soft labels (the label-bytes hash picks their survivor)");
          return null;
        }
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
                duplicates,
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

  /** Why an example is dropped (null: kept); the first step that drops it names it. */
  static final String DECISION = "_decision";

  static final String DUPLICATE = "DUPLICATE";
  static final String NEAR_DUPLICATE = "NEAR_DUPLICATE";
  static final String CONTAMINATED = "CONTAMINATED";

  /**
   * Adds {@value #DECISION} to example rows: the chunk reject reason, {@value #DUPLICATE} for all
   * but the first example of each content hash (order: record id, chunk, Kafka coordinates, the
   * label-bytes hash, the locator; rejected chunk groups take no part), else null. One shuffle of
   * the hash and the ordering columns only (not the tokens: issue 14, the window over whole example
   * rows shuffled 138 MB at 200,000 records); the locators of the duplicates (a few percent of the
   * rows) are collected and the decision is a lookup in their broadcast.
   */
  private static Dataset<Row> withDuplicates(
      SparkSession spark, Dataset<Row> rows, boolean labelsHashUnknown, List<long[]> ties) {
    Column rejectedChunks = col(ChunkReassembly.CHUNK_REJECT).isNotNull();
    WindowSpec byContent =
        Window.partitionBy(col(Deduplication.CONTENT_HASH))
            .orderBy(
                col(RawColumns.RECORD_ID).asc_nulls_last(),
                col(RawColumns.CHUNK_INDEX).asc_nulls_last(),
                col(RawColumns.KAFKA_PARTITION).asc_nulls_last(),
                col(RawColumns.KAFKA_OFFSET).asc_nulls_last(),
                col(CurationFeatures.LABELS_HASH).asc_nulls_last(),
                col(CurationFeatures.LOC).asc_nulls_last());
    List<Row> dupRows =
        rows.where(rejectedChunks.unary_$bang())
            .select(
                col(Deduplication.CONTENT_HASH),
                col(RawColumns.RECORD_ID),
                col(RawColumns.CHUNK_INDEX),
                col(RawColumns.KAFKA_PARTITION),
                col(RawColumns.KAFKA_OFFSET),
                col(CurationFeatures.LABELS_HASH),
                col(CurationFeatures.LOC))
            .withColumn("_rank", row_number().over(byContent))
            .where(col("_rank").gt(1))
            .select(
                col(CurationFeatures.LOC),
                // With the labels hash unknown (single read: 0 on every row), a duplicate that
                // ties with its group's first row on the four keys before the hash was ordered by
                // locator alone: it is returned with the first row's locator, and the write pass
                // checks that the first row's labels hash is still the least (else: fall back).
                labelsHashUnknown
                    ? when(
                            tiesWithFirst(byContent, RawColumns.RECORD_ID)
                                .and(tiesWithFirst(byContent, RawColumns.CHUNK_INDEX))
                                .and(tiesWithFirst(byContent, RawColumns.KAFKA_PARTITION))
                                .and(tiesWithFirst(byContent, RawColumns.KAFKA_OFFSET)),
                            functions.first(col(CurationFeatures.LOC)).over(byContent))
                        .otherwise(lit(null).cast("long"))
                    : lit(null).cast("long"))
            .collectAsList();
    long[] duplicates = new long[dupRows.size()];
    for (int i = 0; i < duplicates.length; i++) {
      Row d = dupRows.get(i);
      duplicates[i] = d.getLong(0);
      if (!d.isNullAt(1)) {
        ties.add(new long[] {d.getLong(1), d.getLong(0)});
      }
    }
    java.util.Arrays.sort(duplicates);
    return rows.withColumn(
        DECISION,
        when(rejectedChunks, col(ChunkReassembly.CHUNK_REJECT))
            .when(locatorIn(spark, duplicates).apply(col(CurationFeatures.LOC)), lit(DUPLICATE)));
  }

  /** Every locator in {@code ties} (pairs of first row and tied duplicate), sorted, distinct. */
  private static long[] tiedLocators(List<long[]> ties) {
    return ties.stream().flatMapToLong(java.util.Arrays::stream).sorted().distinct().toArray();
  }

  /**
   * Whether, in every group of rows that tie with their first row on all dedupe keys before the
   * labels hash ({@code ties}), the first row (by locator, the single read's survivor) also has the
   * least labels hash (ties: the least locator), i.e. is the two-pass run's survivor. {@code
   * hashes}: (locator, labels hash) of those rows, from the write pass.
   */
  static boolean sameSurvivors(List<long[]> ties, List<long[]> hashes) {
    Map<Long, Long> hashOf = new java.util.HashMap<>();
    for (long[] h : hashes) {
      hashOf.put(h[0], h[1]);
    }
    for (long[] t : ties) {
      Long first = hashOf.get(t[0]);
      Long other = hashOf.get(t[1]);
      if (first == null || other == null) {
        return false;
      }
      if (other < first || (other.equals(first) && t[1] < t[0])) {
        return false;
      }
    }
    return true;
  }

  /** Whether {@code name} equals (null-safe) its value on the first row of {@code window}. */
  private static Column tiesWithFirst(WindowSpec window, String name) {
    return functions.first(col(name)).over(window).eqNullSafe(col(name));
  }

  /** The one line a single-read run prints when it hands over to the two-pass run. */
  private static void fallBack(String why) {
    System.err.println(
        "curate: single read of the soft labels abandoned ("
            + why
            + "); running the two-pass curation (every row's soft labels validated first)");
  }

  /** Whether a locator is in {@code sorted} (broadcast; a binary search per row). */
  private static UserDefinedFunction locatorIn(SparkSession spark, long[] sorted) {
    Broadcast<long[]> set =
        JavaSparkContext.fromSparkContext(spark.sparkContext()).broadcast(sorted);
    return udf(
        (UDF1<Long, Boolean>) loc -> java.util.Arrays.binarySearch(set.value(), loc) >= 0,
        DataTypes.BooleanType);
  }

  /**
   * Marks the rows where {@code where} holds whose {@value NearDuplicates#KEY} is in {@code keys}
   * with {@code decision} (a broadcast set; no job).
   */
  private static Dataset<Row> decide(
      SparkSession spark,
      Dataset<Row> rows,
      Column where,
      java.util.SortedSet<String> keys,
      String decision) {
    if (keys.isEmpty()) {
      return rows;
    }
    Broadcast<java.util.Set<String>> set =
        JavaSparkContext.fromSparkContext(spark.sparkContext())
            .broadcast(new java.util.HashSet<>(keys));
    UserDefinedFunction in =
        udf((UDF1<String, Boolean>) k -> set.value().contains(k), DataTypes.BooleanType);
    return rows.withColumn(
        DECISION,
        when(where.and(in.apply(col(NearDuplicates.KEY))), lit(decision)).otherwise(col(DECISION)));
  }

  /** {@code rows.observe(observation, metrics...)}. */
  private static Dataset<Row> observe(
      Dataset<Row> rows, Observation observation, List<Column> metrics) {
    return rows.observe(
        observation, metrics.get(0), metrics.subList(1, metrics.size()).toArray(new Column[0]));
  }

  /** The single long column of {@code rows}, collected (one job when the plan has no shuffle). */
  private static long[] longs(Dataset<Row> rows) {
    return rows.as(Encoders.LONG()).collectAsList().stream().mapToLong(Long::longValue).toArray();
  }

  /** An observed count or sum (null, a sum over no rows, is 0). */
  private static long number(Map<String, Object> metrics, String name) {
    Object v = metrics.get(name);
    return v == null ? 0 : ((Number) v).longValue();
  }

  /**
   * The wide rows that make the kept examples: input rows whose locator is not dropped, chunked
   * records reassembled (only their rows move between tasks); raw layout.
   */
  private static Dataset<Row> keptRows(
      SparkSession spark,
      Dataset<Row> raw,
      Map<String, Integer> files,
      long[] dropped,
      boolean chunked) {
    UserDefinedFunction isDropped = locatorIn(spark, dropped);
    UserDefinedFunction locator =
        udf(
            (UDF2<String, Long, Long>)
                (file, row) ->
                    CurationFeatures.locator(CurationFeatures.fileIndexOf(files, file), row),
            DataTypes.LongType);
    Dataset<Row> rows =
        withLocatorColumns(raw)
            .where(
                functions.not(
                    isDropped.apply(
                        locator.apply(col(CurationFeatures.FILE), col(CurationFeatures.ROW)))));
    Dataset<Row> single =
        rows.where(col(RawColumns.CHUNK_COUNT).leq(1))
            .select(RawColumns.names().stream().map(functions::col).toArray(Column[]::new));
    if (!chunked) {
      // No valid row is chunked, and the dropped locators cover every other row: no shuffle.
      return single;
    }
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

  /**
   * {@link #keptRows} without chunked rows (the single read has none), and the soft labels of every
   * input row, kept or dropped, checked on the way ({@link CurationFeatures#certainlyValidLabels}):
   * a dropped row's labels count too, since the two-pass run would have rejected it instead (a
   * duplicate's survivor could change). A row the first pass rejected ({@code rejected}: for a
   * reason found before the labels are read) only needs labels that are not null (a null would have
   * been the two-pass run's reason). Failures are counted in the accumulators (null labels, and
   * labels the fast check cannot clear); a retried task can count twice, but only zero against
   * non-zero is read.
   */
  private static Dataset<Row> keptRowsCheckingLabels(
      SparkSession spark,
      Dataset<Row> raw,
      Map<String, Integer> files,
      long[] dropped,
      long[] rejected,
      long[] tied,
      LongAccumulator nullLabels,
      LongAccumulator uncleared,
      org.apache.spark.util.CollectionAccumulator<long[]> tieHashes) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Broadcast<long[]> set = jsc.broadcast(dropped);
    long[] rejectedSorted = rejected.clone();
    java.util.Arrays.sort(rejectedSorted);
    Broadcast<long[]> rejectedSet = jsc.broadcast(rejectedSorted);
    Broadcast<long[]> tiedSet = jsc.broadcast(tied);
    // One UDF holds both the check and the locator test, so that no dropped row skips the check.
    UserDefinedFunction keep =
        udf(
            (UDF6<Row, Integer, byte[], Integer, Integer, Integer, Boolean>)
                (where, tokenCount, labels, vocab, topK, positions) -> {
                  long loc =
                      CurationFeatures.locator(
                          CurationFeatures.fileIndexOf(files, where.getString(0)),
                          where.getLong(1));
                  if (labels != null && java.util.Arrays.binarySearch(tiedSet.value(), loc) >= 0) {
                    tieHashes.add(new long[] {loc, CurationFeatures.bytesHash(labels)});
                  }
                  if (labels == null) {
                    nullLabels.add(1);
                  } else if (java.util.Arrays.binarySearch(rejectedSet.value(), loc) < 0
                      && !CurationFeatures.certainlyValidLabels(
                          labels, tokenCount, vocab, topK, positions)) {
                    uncleared.add(1);
                  }
                  return java.util.Arrays.binarySearch(set.value(), loc) < 0;
                },
            DataTypes.BooleanType);
    return withLocatorColumns(raw)
        .where(
            keep.apply(
                functions.struct(col(CurationFeatures.FILE), col(CurationFeatures.ROW)),
                // The count only (no token array through Java): the first pass checked the ids.
                when(col(RawColumns.TOKENS).isNotNull(), functions.size(col(RawColumns.TOKENS))),
                col(RawColumns.SOFT_LABELS),
                col(RawColumns.VOCAB_SIZE),
                col(RawColumns.TOP_K),
                col(RawColumns.POSITIONS)))
        .select(RawColumns.names().stream().map(functions::col).toArray(Column[]::new));
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
    @Mixin JobCli.OutputFileSizes files;

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
        description = "MinHash functions, with --near-dup-threshold (default 48).")
    Integer nearDupHashes;

    @Option(
        names = "--near-dup-bands",
        paramLabel = "N",
        description = "LSH bands, with --near-dup-threshold (default 12).")
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
          files.targetFileMb,
          files.maxRecordsPerFile,
          events);
    }
  }
}
