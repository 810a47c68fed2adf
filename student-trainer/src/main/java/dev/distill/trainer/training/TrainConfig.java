package dev.distill.trainer.training;

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
    float minDelta) {
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
  }

  /** No gradient accumulation, no early stopping. */
  public TrainConfig(
      int steps,
      int batchSize,
      float learningRate,
      int warmupSteps,
      float minLearningRate,
      float weightDecay,
      float gradClipNorm,
      int evalEvery,
      int evalBatches,
      long seed) {
    this(
        steps,
        batchSize,
        learningRate,
        warmupSteps,
        minLearningRate,
        weightDecay,
        gradClipNorm,
        evalEvery,
        evalBatches,
        seed,
        1,
        0,
        0f);
  }

  /** This config with {@code accumulationSteps} micro-batches per optimiser step. */
  public TrainConfig withAccumulation(int accumulationSteps) {
    return new TrainConfig(
        steps,
        batchSize,
        learningRate,
        warmupSteps,
        minLearningRate,
        weightDecay,
        gradClipNorm,
        evalEvery,
        evalBatches,
        seed,
        accumulationSteps,
        patience,
        minDelta);
  }

  /** This config with early stopping after {@code patience} passes without improvement. */
  public TrainConfig withEarlyStopping(int patience, float minDelta) {
    return new TrainConfig(
        steps,
        batchSize,
        learningRate,
        warmupSteps,
        minLearningRate,
        weightDecay,
        gradClipNorm,
        evalEvery,
        evalBatches,
        seed,
        accumulationSteps,
        patience,
        minDelta);
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
  public java.util.Map<String, String> describe() {
    java.util.Map<String, String> m = new java.util.LinkedHashMap<>();
    m.put("steps", Integer.toString(steps));
    m.put("batchSize", Integer.toString(batchSize));
    m.put("learningRate", Float.toString(learningRate));
    m.put("warmupSteps", Integer.toString(warmupSteps));
    m.put("minLearningRate", Float.toString(minLearningRate));
    m.put("weightDecay", Float.toString(weightDecay));
    m.put("gradClipNorm", Float.toString(gradClipNorm));
    m.put("evalEvery", Integer.toString(evalEvery));
    m.put("evalBatches", Integer.toString(evalBatches));
    m.put("seed", Long.toString(seed));
    m.put("accumulationSteps", Integer.toString(accumulationSteps));
    m.put("patience", Integer.toString(patience));
    m.put("minDelta", Float.toString(minDelta));
    return m;
  }
}
