package dev.distill.deploy.pipeline;

import com.google.gson.annotations.SerializedName;
import dev.distill.spark.jobs.CurateConfig;
import dev.distill.spark.jobs.CurateJob;
import dev.distill.spark.jobs.CurateResult;
import dev.distill.spark.jobs.IngestConfig;
import dev.distill.spark.jobs.IngestJob;
import dev.distill.spark.jobs.IngestResult;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;

/**
 * The Spark side of one workload's soft labels, in a workload folder {@code dir}: ingest (Kafka ->
 * {@code raw/}, Structured Streaming, AvailableNow, read_committed) then curation ({@code raw/} ->
 * {@code curated/}: validate, dedupe, split). Two steps, so that each is timed as its own stage.
 *
 * @param dir the workload's folder (the run folder, or {@code runs/<id>/subword})
 * @param name the stage's name on console lines, e.g. {@code spark subword}
 */
record CurateStage(DemoConfig config, Path dir, String name, PrintStream out) {
  /** report.json's {@code curation}: the curation's counts and the ingest's. */
  record CurationResult(
      long input,
      long kept,
      long rejected,
      @SerializedName("rejected_by_reason") Map<String, Long> rejectedByReason,
      long duplicates,
      long train,
      long val,
      long ingested,
      @SerializedName("quarantined_at_ingest") long quarantinedAtIngest) {
    static CurationResult of(IngestResult ingest, CurateResult curate) {
      return new CurationResult(
          curate.input(),
          curate.kept(),
          curate.rejected(),
          curate.rejectedByReason(),
          curate.duplicates(),
          curate.train(),
          curate.val(),
          ingest.ingested(),
          ingest.quarantined());
    }

    /** The console line, e.g. {@code [spark] curated 280 -> kept 270 (train 250, val 20), ...}. */
    String line(String stage) {
      return String.format(
          "[%s] curated %d -> kept %d (train %d, val %d), rejected %d %s, duplicates %d",
          stage, input, kept, train, val, rejected, rejectedByReason, duplicates);
    }
  }

  /** Kafka {@code topic} -> {@code raw/}; bad records to {@code quarantine/}. */
  IngestResult ingest(String bootstrap, String topic) {
    out.println(
        "["
            + name
            + "] ingest: Kafka -> raw Parquet (Structured Streaming, AvailableNow, read_committed)");
    IngestResult ingest =
        IngestJob.run(
            new IngestConfig(
                bootstrap,
                topic,
                dir.resolve("raw").toString(),
                dir.resolve("quarantine").toString(),
                dir.resolve("checkpoints/ingest").toString(),
                config.sparkMaster(),
                Map.of()));
    out.printf(
        "[%s] ingested %d records, quarantined %d%n",
        name, ingest.ingested(), ingest.quarantined());
    return ingest;
  }

  /** {@code raw/} -> {@code curated/} and {@code curation-report.json}. */
  CurationResult curate(IngestResult ingest) {
    out.println("[" + name + "] curate: validate, dedupe, split");
    CurateResult curate =
        CurateJob.run(
            new CurateConfig(
                dir.resolve("raw").toString(),
                dir.resolve("curated").toString(),
                dir.resolve("curation-report.json").toString(),
                config.curateValFraction(),
                config.sparkMaster()));
    CurationResult result = CurationResult.of(ingest, curate);
    out.println(result.line(name));
    return result;
  }
}
