package dev.distill.schemas.distributed;

import java.io.Serializable;

/**
 * One worker's account of a data-parallel run.
 *
 * @param rank the worker
 * @param steps optimiser steps taken
 * @param tokens labelled positions this worker trained on
 * @param seconds wall time of the training loop
 * @param valLoss validation loss at the end (same on every worker once synchronised)
 * @param bytesSent payload bytes this worker sent through the all-reduce
 * @param syncs all-reduce calls made by the loop (steps for all-reduce, steps / H for averaging)
 * @param unusedExamples examples left out so every shard has the same size (at most worldSize - 1)
 * @param output where rank 0 wrote the model; empty on other ranks
 * @param process where the worker ran, as the engine names it (e.g. {@code executor 1, pid 4242});
 *     empty when not known. Lets tests and users see that workers had their own JVMs.
 */
public record TrainSummary(
    int rank,
    long steps,
    long tokens,
    double seconds,
    double valLoss,
    long bytesSent,
    long syncs,
    long unusedExamples,
    String output,
    String process)
    implements Serializable {
  public TrainSummary {
    process = process == null ? "" : process;
  }

  /** A summary whose worker's process is not known. */
  public TrainSummary(
      int rank,
      long steps,
      long tokens,
      double seconds,
      double valLoss,
      long bytesSent,
      long syncs,
      long unusedExamples,
      String output) {
    this(rank, steps, tokens, seconds, valLoss, bytesSent, syncs, unusedExamples, output, "");
  }

  /** This summary with {@link #process} set. */
  public TrainSummary withProcess(String where) {
    return new TrainSummary(
        rank, steps, tokens, seconds, valLoss, bytesSent, syncs, unusedExamples, output, where);
  }
}
