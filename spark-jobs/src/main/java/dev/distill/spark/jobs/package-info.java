/**
 * The Spark jobs of the pipeline, each a {@code main} for {@code spark-submit} and a {@code
 * run(Config)} for the embedded pipeline: {@link dev.distill.spark.jobs.IngestJob} (Kafka to raw
 * Parquet, exactly once), {@link dev.distill.spark.jobs.CurateJob} (raw to curated Parquet), {@link
 * dev.distill.spark.jobs.CurateRationalesJob}, {@link dev.distill.spark.jobs.RelabelJob}, {@link
 * dev.distill.spark.jobs.FuseJob} and {@link dev.distill.spark.jobs.EvalJob}. What they share stays
 * package-private: the session and the run template ({@code Sessions}), the command line ({@code
 * JobCli}'s mixins), one-sentence failures ({@code Failures}), input discovery that survives moved
 * folders ({@code ParquetInput}), output file sizing ({@code OutputFiles}) and the report writer
 * ({@code ReportJson}). Counts ride on passes that run anyway ({@code Dataset.observe}, issue 14).
 */
package dev.distill.spark.jobs;
