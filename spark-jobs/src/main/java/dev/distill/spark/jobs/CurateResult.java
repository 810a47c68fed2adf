package dev.distill.spark.jobs;

import java.util.Map;

/**
 * What one CurateJob run found and wrote. {@code input = kept + rejected + duplicates} and {@code
 * kept = train + val}.
 *
 * @param input raw rows read
 * @param kept rows written to the curated output
 * @param rejected rows that broke a record rule
 * @param rejectedByReason rejected rows by {@code Reason} name
 * @param duplicates valid rows dropped as exact duplicates (same tokens) of a kept row
 * @param train rows in {@code split=train}
 * @param val rows in {@code split=val}
 * @param outputPath the curated folder
 */
public record CurateResult(
    long input,
    long kept,
    long rejected,
    Map<String, Long> rejectedByReason,
    long duplicates,
    long train,
    long val,
    String outputPath) {
  public CurateResult {
    rejectedByReason = Map.copyOf(rejectedByReason);
  }
}
