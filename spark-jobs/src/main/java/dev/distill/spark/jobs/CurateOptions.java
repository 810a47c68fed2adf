package dev.distill.spark.jobs;

import dev.distill.spark.transforms.Decontamination;
import dev.distill.spark.transforms.ExampleWeights;
import dev.distill.spark.transforms.LogitFilters;
import dev.distill.spark.transforms.NearDuplicates;
import java.util.List;

/**
 * CurateJob's optional stages. {@link #defaults()} turns every one off (weights 1.0), so a run
 * without options keeps what validation and exact dedupe keep.
 *
 * @param nearDuplicates MinHash/LSH near-duplicate removal, or null (off)
 * @param logitFilters bounds on the summary columns, applied in order (empty: off)
 * @param decontamination drop train examples sharing an n-gram with an evaluation set, or null
 * @param weights per-example weight scheme
 */
public record CurateOptions(
    NearDuplicates.Params nearDuplicates,
    List<LogitFilters.Filter> logitFilters,
    Decontamination.Params decontamination,
    ExampleWeights.Params weights) {

  public CurateOptions {
    logitFilters = logitFilters == null ? List.of() : List.copyOf(logitFilters);
    weights = weights == null ? ExampleWeights.Params.UNIFORM : weights;
  }

  /** Every optional stage off, weights 1.0. */
  public static CurateOptions defaults() {
    return new CurateOptions(null, List.of(), null, ExampleWeights.Params.UNIFORM);
  }

  public CurateOptions withNearDuplicates(NearDuplicates.Params p) {
    return new CurateOptions(p, logitFilters, decontamination, weights);
  }

  public CurateOptions withLogitFilters(List<LogitFilters.Filter> f) {
    return new CurateOptions(nearDuplicates, f, decontamination, weights);
  }

  public CurateOptions withDecontamination(Decontamination.Params p) {
    return new CurateOptions(nearDuplicates, logitFilters, p, weights);
  }

  public CurateOptions withWeights(ExampleWeights.Params p) {
    return new CurateOptions(nearDuplicates, logitFilters, decontamination, p);
  }
}
