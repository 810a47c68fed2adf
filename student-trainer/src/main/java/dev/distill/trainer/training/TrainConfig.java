package dev.distill.trainer.training;

import java.lang.reflect.RecordComponent;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One training run's optimisation settings (AdamW, linear warmup then cosine decay, global-norm
 * gradient clipping), as in nanoGPT's train.py.
 *
 * @param steps optimiser steps
 * @param batchSize sequences per micro-batch (per step without accumulation)
 * @param learningRate peak learning rate
 * @param warmupSteps linear warmup from 0 to the peak
 * @param minLearningRate floor of the cosine decay
 * @param weightDecay AdamW decoupled weight decay
 * @param gradClipNorm global L2 norm the gradients are scaled down to; 0 disables
 * @param evalEvery steps between validation passes; 0 evaluates only at the end
 * @param evalBatches batches per validation pass
 * @param seed seeds data sampling
 * @param accumulationSteps micro-batches of {@code batchSize} sequences per optimiser step (>= 1):
 *     the effective batch is {@code batchSize * accumulationSteps}, as nanoGPT's {@code
 *     gradient_accumulation_steps}
 * @param patience validation passes without an improvement of more than {@code minDelta} after
 *     which the run stops and returns to the best pass's parameters; 0 never stops early
 * @param minDelta how much lower than the best so far a validation loss must be to count as an
 *     improvement (nats per token, >= 0)
 * @param concurrentMicroBatches micro-batches of a step that run at the same time, each on its own
 *     thread with one intra-op engine thread (>= 1, dividing {@code accumulationSteps}); 1 runs
 *     them one after the other on every intra-op thread. See {@link TrainingLoop}: the gradients
 *     are those of sequential accumulation on one thread, and a small model trains faster (issue
 *     13), because no op waits for or wakes an OpenMP worker.
 */
public record TrainConfig(
    int steps,
    int batchSize,
    float learningRate,
    int warmupSteps,
    float minLearningRate,
    float weightDecay,
    float gradClipNorm,
    int evalEvery,
    int evalBatches,
    long seed,
    int accumulationSteps,
    int patience,
    float minDelta,
    int concurrentMicroBatches) {
  public TrainConfig {
    require(steps >= 1, "steps must be >= 1, got " + steps);
    require(batchSize >= 1, "batchSize must be >= 1, got " + batchSize);
    require(learningRate > 0 && learningRate < 1, "learningRate must be in (0, 1)");
    require(warmupSteps >= 0 && warmupSteps <= steps, "warmupSteps must be in [0, steps]");
    require(
        minLearningRate >= 0 && minLearningRate <= learningRate,
        "minLearningRate must be in [0, learningRate]");
    require(weightDecay >= 0, "weightDecay must be >= 0");
    require(gradClipNorm >= 0, "gradClipNorm must be >= 0");
    require(evalEvery >= 0, "evalEvery must be >= 0");
    require(evalBatches >= 1, "evalBatches must be >= 1");
    require(accumulationSteps >= 1, "accumulationSteps must be >= 1, got " + accumulationSteps);
    require(patience >= 0, "patience must be >= 0, got " + patience);
    // Without periodic validation there is a single pass, at the end: nothing to stop early.
    require(patience == 0 || evalEvery > 0, "patience > 0 needs evalEvery > 0");
    require(Float.isFinite(minDelta) && minDelta >= 0, "minDelta must be >= 0, got " + minDelta);
    require(
        concurrentMicroBatches >= 1 && accumulationSteps % concurrentMicroBatches == 0,
        "concurrentMicroBatches must be >= 1 and divide accumulationSteps ("
            + accumulationSteps
            + "), got "
            + concurrentMicroBatches);
  }

  /**
   * A builder of the three settings every run names, with defaults for the rest: no warmup, a
   * cosine floor of {@code learningRate / 10} (nanoGPT's {@code min_lr}), no weight decay, clipping
   * at norm 1 and seed 1337 (as nanoGPT's train.py), one validation pass at the end on one batch,
   * no accumulation, no early stopping.
   */
  public static Builder builder(int steps, int batchSize, float learningRate) {
    Builder b = new Builder();
    b.steps = steps;
    b.batchSize = batchSize;
    b.learningRate = learningRate;
    return b;
  }

  /** A builder holding this config's settings, to change some of them. */
  public Builder toBuilder() {
    Builder b = builder(steps, batchSize, learningRate);
    b.warmupSteps = warmupSteps;
    b.minLearningRate = minLearningRate;
    b.weightDecay = weightDecay;
    b.gradClipNorm = gradClipNorm;
    b.evalEvery = evalEvery;
    b.evalBatches = evalBatches;
    b.seed = seed;
    b.accumulationSteps = accumulationSteps;
    b.concurrentMicroBatches = concurrentMicroBatches;
    b.patience = patience;
    b.minDelta = minDelta;
    return b;
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }

  /** Learning rate at a 0-based step: linear warmup, then cosine down to the floor. */
  public float learningRateAt(int step) {
    if (step < warmupSteps) {
      return learningRate * (step + 1) / warmupSteps;
    }
    double progress = (double) (step - warmupSteps) / Math.max(1, steps - warmupSteps);
    double cosine = 0.5 * (1 + Math.cos(Math.PI * Math.min(1.0, progress)));
    return (float) (minLearningRate + cosine * (learningRate - minLearningRate));
  }

  /** Every setting by component name, as strings (recorded with checkpoints and runs). */
  public Map<String, String> describe() {
    // Derived from the record's components, so a new setting is recorded without another line.
    Map<String, String> m = new LinkedHashMap<>();
    for (RecordComponent c : TrainConfig.class.getRecordComponents()) {
      try {
        m.put(c.getName(), String.valueOf(c.getAccessor().invoke(this)));
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException("cannot read TrainConfig." + c.getName(), e);
      }
    }
    return m;
  }

  /** Collects settings by name; {@link #build} validates them (the canonical constructor). */
  public static final class Builder {
    private int steps;
    private int batchSize;
    private float learningRate;
    private int warmupSteps;
    private float minLearningRate = Float.NaN; // NaN: learningRate / 10
    private float weightDecay;
    private float gradClipNorm = 1f;
    private int evalEvery;
    private int evalBatches = 1;
    private long seed = 1337;
    private int accumulationSteps = 1;
    private int concurrentMicroBatches = 1;
    private int patience;
    private float minDelta;

    private Builder() {}

    public Builder steps(int v) {
      steps = v;
      return this;
    }

    public Builder warmupSteps(int v) {
      warmupSteps = v;
      return this;
    }

    public Builder minLearningRate(float v) {
      minLearningRate = v;
      return this;
    }

    public Builder weightDecay(float v) {
      weightDecay = v;
      return this;
    }

    public Builder gradClipNorm(float v) {
      gradClipNorm = v;
      return this;
    }

    /** A validation pass of {@code batches} batches every {@code every} steps (0: at the end). */
    public Builder evaluation(int every, int batches) {
      evalEvery = every;
      evalBatches = batches;
      return this;
    }

    public Builder seed(long v) {
      seed = v;
      return this;
    }

    /** Micro-batches of {@code batchSize} sequences per optimiser step. */
    public Builder accumulationSteps(int v) {
      accumulationSteps = v;
      return this;
    }

    /** Micro-batches run at the same time, one thread each (see {@link TrainConfig}). */
    public Builder concurrentMicroBatches(int v) {
      concurrentMicroBatches = v;
      return this;
    }

    /** Early stopping after {@code patience} passes without an improvement of {@code minDelta}. */
    public Builder earlyStopping(int patience, float minDelta) {
      this.patience = patience;
      this.minDelta = minDelta;
      return this;
    }

    public TrainConfig build() {
      return new TrainConfig(
          steps,
          batchSize,
          learningRate,
          warmupSteps,
          Float.isNaN(minLearningRate) ? learningRate / 10 : minLearningRate,
          weightDecay,
          gradClipNorm,
          evalEvery,
          evalBatches,
          seed,
          accumulationSteps,
          patience,
          minDelta,
          concurrentMicroBatches);
    }
  }
}
