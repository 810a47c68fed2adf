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
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.FlatMapGroupsFunction;
import org.apache.spark.api.java.function.ForeachPartitionFunction;
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
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.expressions.WindowSpec;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
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
          + "  [--weights uniform|entropy [--weight-tau 1.0]]\n"
          + "  [--target-file-mb 128 (output file size aimed at; one file per split per task)]"
          + " [--max-records-per-file N (cap; 0 = none)]\n"
          + "  [--event-log DIR|none (Spark event log; default: the report's folder/spark-events)]"
          + " [--verbose (stack traces on failure)]";

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
        //    narrow rows with a locator of each input row. Only narrow rows are cached. The pass
        //    is one Spark job that collects the locators of the rejected rows; every count of
        //    validation, the provenance guard's check and whether any row is chunked ride on it
        //    (Dataset.observe, in the result stage, so a retried map task cannot count twice).
        Dataset<Row> rawRead = input.read(spark);
        Map<String, Integer> files = fileNumbers(rawRead.inputFiles());
        Dataset<Row> scanned =
            keep(cached, CurationFeatures.scan(withLocatorColumns(rawRead), files));
        Column reason = col(RecordValidation.REJECT_REASON);
        Column isValid = reason.isNull();
        List<Column> scanMetrics = new ArrayList<>();
        scanMetrics.add(count(lit(1)).as("input"));
        scanMetrics.add(count(reason).as("rejected"));
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

        // 2. Examples (chunked records reassembled: only when a row is chunked), their features,
        //    and the exact-dedupe decision, cached narrow. Each example carries a decision: null
        //    (kept so far) or why it is dropped; later steps only decide on undecided rows.
        Dataset<Row> decided =
            keep(
                cached,
                withDuplicates(
                    CurationFeatures.features(
                        CurationFeatures.examples(RecordValidation.valid(scanned), chunked),
                        opt.nearDuplicates())));
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
        // The quantiles of the deduplicated examples: approxQuantile's aggregation, on this pass.
        exampleMetrics.addAll(List.of(LogitFilters.quantileAggregates(undecided, probabilities)));
        Observation exampleStats = new Observation("curate-examples");
        observe(decided, exampleStats, exampleMetrics)
            .foreachPartition(
                (ForeachPartitionFunction<Row>)
                    it -> {
                      while (it.hasNext()) {
                        it.next();
                      }
                    });
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
        Map<String, List<Double>> quantileValues = new TreeMap<>();
        for (String c : LogitFilters.COLUMNS) {
          quantileValues.put(c, doubles(ex.get("_q_" + c)));
        }
        Map<String, Map<Double, Double>> distributions =
            LogitFilters.quantilesFrom(probabilities, quantileValues);

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
        long contaminated = 0;
        if (opt.decontamination() != null) {
          Decontamination.Params d = opt.decontamination();
          Dataset<Row> eval =
              d.againstVal()
                  ? annotated.where(undecided.and(isVal))
                  : ParquetInput.resolve(hadoop, "--decontaminate-against", d.evalPath())
                      .read(spark);
          java.util.SortedSet<String> dirty = new java.util.TreeSet<>();
          for (Row r :
              Decontamination.hits(
                      annotated.where(undecided.and(isTrain)),
                      Decontamination.ngrams(eval, d.ngram()),
                      d.ngram())
                  .collectAsList()) {
            dirty.add(r.getString(0));
          }
          contaminated = dirty.size();
          annotated = decide(spark, annotated, undecided.and(isTrain), dirty, CONTAMINATED);
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
        Observation totalStats = new Observation("curate-totals");
        long[] droppedExampleLocators =
            longs(
                observe(annotated, totalStats, totalMetrics)
                    .where(col(DECISION).isNotNull())
                    .select(explode(col(CurationFeatures.LOCS))));
        Map<String, Object> totals = totalStats.getAsJava();
        long train = number(totals, "train");
        long val = number(totals, "val");
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

        // 7. The second and last pass over the wide rows: the kept ones, written.
        Dataset<Row> curated =
            CuratedProjection.toCurated(
                ExampleWeights.assign(
                    SplitAssignment.assign(
                        keptRows(spark, rawRead, files, droppedLocators, chunked),
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
                duplicates,
                train,
                val,
                config.splitsRoot(),
                chunkRowsMerged,
                filtered,
                nearDuplicates,
                contaminated);
        writeText(
            hadoop,
            config.reportPath(),
            reportJson(result, distributions, resolved, opt, input.warnings()));
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
   * label-bytes hash, the locator; rejected chunk groups take no part), else null. One shuffle.
   */
  private static Dataset<Row> withDuplicates(Dataset<Row> rows) {
    Column rejectedChunks = col(ChunkReassembly.CHUNK_REJECT).isNotNull();
    WindowSpec byContent =
        Window.partitionBy(col(Deduplication.CONTENT_HASH), rejectedChunks)
            .orderBy(
                col(RawColumns.RECORD_ID).asc_nulls_last(),
                col(RawColumns.CHUNK_INDEX).asc_nulls_last(),
                col(RawColumns.KAFKA_PARTITION).asc_nulls_last(),
                col(RawColumns.KAFKA_OFFSET).asc_nulls_last(),
                col(CurationFeatures.LABELS_HASH).asc_nulls_last(),
                col(CurationFeatures.LOC).asc_nulls_last());
    return rows.withColumn(
        DECISION,
        when(rejectedChunks, col(ChunkReassembly.CHUNK_REJECT))
            .when(row_number().over(byContent).gt(1), lit(DUPLICATE)));
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

  /** An observed array of doubles (null: empty). */
  private static List<Double> doubles(Object v) {
    if (v == null) {
      return List.of();
    }
    List<?> list =
        v instanceof scala.collection.Seq<?> seq
            ? scala.jdk.javaapi.CollectionConverters.asJava(seq)
            : (List<?>) v;
    return list.stream().map(x -> ((Number) x).doubleValue()).toList();
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
    List<String> ws = new ArrayList<>();
    warnings.forEach(w -> ws.add("    " + quote(w)));
    b.append("  \"warnings\": [")
        .append(ws.isEmpty() ? "" : "\n" + String.join(",\n", ws) + "\n  ")
        .append("],\n");
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
            Args.verbose(args),
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
                "run-id",
                "target-file-mb",
                "max-records-per-file",
                "event-log"),
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
    String report = a.required("report");
    String eventLog = a.optional("event-log", null);
    if (eventLog == null) {
      String parent =
          new Path(report).getParent() == null ? "." : new Path(report).getParent().toString();
      eventLog = parent + "/spark-events";
    } else if (eventLog.equals("none")) {
      eventLog = null;
    }
    return new CurateConfig(
        a.required("input"),
        a.required("output"),
        report,
        fraction,
        null,
        opt,
        a.optional("run-id", null),
        (int) number(a, "target-file-mb", String.valueOf(OutputFiles.DEFAULT_TARGET_MB)),
        (long) number(a, "max-records-per-file", "0"),
        eventLog);
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
