package dev.distill.spark.jobs;

import java.util.Map;

/**
 * What one CurateJob run found and wrote. Every raw row is accounted for once: {@code input = kept
 * + rejected + duplicates + chunkRowsMerged + sum(filtered) + nearDuplicates + contaminated}, and
 * {@code kept = train + val}.
 *
 * @param input raw rows read
 * @param kept rows (examples) written to the curated output
 * @param rejected rows that broke a record rule, or belonged to an incomplete chunked record
 * @param rejectedByReason rejected rows by {@code Reason} name (plus {@code INCOMPLETE_CHUNKS},
 *     {@code CHUNK_MISMATCH})
 * @param duplicates examples dropped as exact duplicates (same tokens) of a kept one
 * @param train examples in {@code split=train}
 * @param val examples in {@code split=val}
 * @param outputPath the curated folder holding the {@code split=} folders (with a run id: {@code
 *     <output>/run_id=<id>})
 * @param chunkRowsMerged chunk rows folded into another row's example by reassembly (a record of n
 *     chunks counts n - 1)
 * @param filtered examples dropped by each logit filter, by filter name
 * @param nearDuplicates examples dropped as near-duplicates (MinHash/LSH, verified Jaccard)
 * @param contaminated train examples dropped for sharing an n-gram with the evaluation set
 */
public record CurateResult(
    long input,
    long kept,
    long rejected,
    Map<String, Long> rejectedByReason,
    long duplicates,
    long train,
    long val,
    String outputPath,
    long chunkRowsMerged,
    Map<String, Long> filtered,
    long nearDuplicates,
    long contaminated) {
  public CurateResult {
    rejectedByReason = Map.copyOf(rejectedByReason);
    filtered = Map.copyOf(filtered);
  }

  /** A result of a run with no optional stage. */
  public CurateResult(
      long input,
      long kept,
      long rejected,
      Map<String, Long> rejectedByReason,
      long duplicates,
      long train,
      long val,
      String outputPath) {
    this(
        input,
        kept,
        rejected,
        rejectedByReason,
        duplicates,
        train,
        val,
        outputPath,
        0,
        Map.of(),
        0,
        0);
  }

  /** Rows dropped by all logit filters together. */
  public long filteredTotal() {
    return filtered.values().stream().mapToLong(Long::longValue).sum();
  }
}
