package dev.distill.trainer.training;

import java.util.List;

/**
 * What a training run measured.
 *
 * @param curve one point per evaluation
 * @param finalValLoss validation loss at the end (the run's own loss, nats per token)
 * @param tokensPerSecond training throughput over the whole run
 * @param seconds wall time of the run
 */
public record TrainResult(
    List<CurvePoint> curve, double finalValLoss, double tokensPerSecond, double seconds) {

  /** Losses at one step. */
  public record CurvePoint(int step, double trainLoss, double valLoss) {}
}
