package dev.distill.training.spi;

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
 * @param timed the loop after its warm-up steps, as the worker measured it: throughput comparisons
 *     use this, not {@link #tokens} / {@link #seconds}
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
    String process,
    Timing timed)
    implements Serializable {
  public TrainSummary {
    process = process == null ? "" : process;
    timed = timed == null ? Timing.NONE : timed; // null: not timed
  }

  /**
   * The training loop from the first step after a warm-up to its end, timed by the worker itself,
   * so executor start-up, data loading, the start check and the first steps' warm-up (JIT, native
   * allocator) are outside. Throughput is {@code tokens / seconds}; the exchange's share of the
   * loop is {@code exchangeSeconds / seconds}.
   *
   * @param afterStep the window starts after this many steps of the run (a resumed run: after its
   *     first step + the warm-up)
   * @param steps optimiser steps in the window
   * @param tokens labelled positions this worker trained on in the window
   * @param seconds wall time of the window (training steps, exchanges, validation passes)
   * @param exchanges all-reduce calls of the training loop in the window
   * @param exchangeSeconds wall time inside those calls: encoding, transfer through the engine,
   *     waiting for the slowest worker, summing
   */
  public record Timing(
      long afterStep,
      long steps,
      long tokens,
      double seconds,
      long exchanges,
      double exchangeSeconds)
      implements Serializable {
    /** No window (a worker that did not time its loop). */
    public static final Timing NONE = new Timing(0, 0, 0, 0, 0, 0);

    /** Tokens per second in the window; 0 when it is empty. */
    public double tokensPerSecond() {
      return seconds > 0 ? tokens / seconds : 0;
    }

    /** Milliseconds per exchange; 0 without exchanges. */
    public double msPerExchange() {
      return exchanges > 0 ? 1000 * exchangeSeconds / exchanges : 0;
    }

    /** Milliseconds per step outside the exchanges; 0 without steps. */
    public double msPerStepOutsideExchanges() {
      return steps > 0 ? 1000 * (seconds - exchangeSeconds) / steps : 0;
    }
  }

  /** This summary with {@link #process} set. */
  public TrainSummary withProcess(String where) {
    return new TrainSummary(
        rank,
        steps,
        tokens,
        seconds,
        valLoss,
        bytesSent,
        syncs,
        unusedExamples,
        output,
        where,
        timed);
  }
}
