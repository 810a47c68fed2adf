package dev.distill.spark.jobs;

/**
 * What one IngestJob run added.
 *
 * @param ingested rows this run committed to the raw output
 * @param quarantined rows this run committed to the quarantine output
 * @param outputPath the raw output folder
 */
public record IngestResult(long ingested, long quarantined, String outputPath) {}
