package dev.distill.spark.jobs;

/**
 * Where CurateJob reads and writes.
 *
 * @param inputPath raw Parquet folder (IngestJob's output, or teacher-service's batch output)
 * @param outputPath curated Parquet folder, partitioned by {@code split}
 * @param reportPath curation report JSON file
 * @param valFraction share of record ids that go to {@code val}, in [0, 1]
 * @param master Spark master; null means the active or spark-submit session's master
 * @param options optional stages (near-duplicates, logit filters, decontamination, weights)
 * @param runId null: the output is {@code <output>/split=.../}; else {@code
 *     <output>/run_id=<runId>/split=.../}, and a re-run with the same id replaces only that run's
 *     partitions (dynamic partition overwrite), so a scheduler can re-run one day or batch
 * @param targetFileMb the size each output file aims at, in MiB (issue 14: no small files)
 * @param maxRecordsPerFile a cap on the rows of one output file (0: none)
 * @param eventLogDir where a session this job creates writes Spark's event log (null: off)
 */
public record CurateConfig(
    String inputPath,
    String outputPath,
    String reportPath,
    double valFraction,
    String master,
    CurateOptions options,
    String runId,
    int targetFileMb,
    long maxRecordsPerFile,
    String eventLogDir) {
  public static final double DEFAULT_VAL_FRACTION = 0.1;

  /** The partition column of {@link #runId}. */
  public static final String RUN_PARTITION = "run_id";

  public CurateConfig {
    require(targetFileMb >= 1, "targetFileMb must be >= 1, got " + targetFileMb);
    require(
        maxRecordsPerFile >= 0,
        "maxRecordsPerFile must be >= 0 (0: no cap), got " + maxRecordsPerFile);
    require(
        runId == null || runId.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,127}"),
        "runId must be 1-128 letters, digits, '.', '_' or '-' (a path segment), got " + runId);
    options = options == null ? CurateOptions.defaults() : options;
    IngestConfig.requireText("inputPath", inputPath);
    IngestConfig.requireText("outputPath", outputPath);
    IngestConfig.requireText("reportPath", reportPath);
    require(
        valFraction >= 0.0 && valFraction <= 1.0,
        "valFraction must be in [0, 1], got " + valFraction);
    require(master == null || !master.isBlank(), "master must be null or non-blank");
    require(!inputPath.equals(outputPath), "inputPath and outputPath must differ: " + inputPath);
    require(
        !reportPath.equals(outputPath) && !reportPath.startsWith(stripSlash(outputPath) + "/"),
        "reportPath must lie outside outputPath (overwrite would delete it): " + reportPath);
  }

  /** The one shape of every check above: a condition and the message of its failure. */
  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }

  /** Output files of the default target size, no row cap, no event log. */
  public CurateConfig(
      String inputPath,
      String outputPath,
      String reportPath,
      double valFraction,
      String master,
      CurateOptions options,
      String runId) {
    this(
        inputPath,
        outputPath,
        reportPath,
        valFraction,
        master,
        options,
        runId,
        OutputFiles.DEFAULT_TARGET_MB,
        0,
        null);
  }

  /** Output not partitioned by run. */
  public CurateConfig(
      String inputPath,
      String outputPath,
      String reportPath,
      double valFraction,
      String master,
      CurateOptions options) {
    this(inputPath, outputPath, reportPath, valFraction, master, options, null);
  }

  /** Config with every optional stage off ({@link CurateOptions#defaults()}). */
  public CurateConfig(
      String inputPath, String outputPath, String reportPath, double valFraction, String master) {
    this(inputPath, outputPath, reportPath, valFraction, master, CurateOptions.defaults());
  }

  public CurateConfig withOptions(CurateOptions o) {
    return copy(o, runId, targetFileMb, maxRecordsPerFile, eventLogDir);
  }

  public CurateConfig withRunId(String id) {
    return copy(options, id, targetFileMb, maxRecordsPerFile, eventLogDir);
  }

  /** The output file layout: target size in MiB and a row cap per file (0: none). */
  public CurateConfig withOutputFiles(int targetMb, long maxRecords) {
    return copy(options, runId, targetMb, maxRecords, eventLogDir);
  }

  /** Spark's event log folder for a session this job creates (null: off). */
  public CurateConfig withEventLog(String dir) {
    return copy(options, runId, targetFileMb, maxRecordsPerFile, dir);
  }

  /** The same paths, val fraction and master with the given optional fields. */
  private CurateConfig copy(
      CurateOptions o, String id, int targetMb, long maxRecords, String eventLog) {
    return new CurateConfig(
        inputPath,
        outputPath,
        reportPath,
        valFraction,
        master,
        o,
        id,
        targetMb,
        maxRecords,
        eventLog);
  }

  /** {@link #targetFileMb} in bytes. */
  public long targetFileBytes() {
    return targetFileMb * 1024L * 1024L;
  }

  /** The folder holding this run's {@code split=} folders. */
  public String splitsRoot() {
    return runId == null ? outputPath : stripSlash(outputPath) + "/" + RUN_PARTITION + "=" + runId;
  }

  private static String stripSlash(String p) {
    return p.endsWith("/") ? p.substring(0, p.length() - 1) : p;
  }
}
