package dev.distill.trainer.training;

import java.util.List;

/**
 * What a training run measured.
 *
 * @param curve one point per evaluation
 * @param finalValLoss validation loss at the end (the run's own loss, nats per token); after an
 *     early stop, the best pass's loss, whose parameters the model holds
 * @param tokensPerSecond training throughput over the whole run (every micro-batch counted)
 * @param seconds wall time of the run
 * @param bestStep the step of the validation pass with the lowest loss (0 when none ran)
 * @param bestValLoss that pass's loss (NaN when none ran)
 * @param stoppedEarlyAt the step at which early stopping ended the run; 0 when it ran every step
 */
public record TrainResult(
    List<CurvePoint> curve,
    double finalValLoss,
    double tokensPerSecond,
    double seconds,
    int bestStep,
    double bestValLoss,
    int stoppedEarlyAt) {

  /** A run without early-stopping bookkeeping: the best pass is the last curve point. */
  public TrainResult(
      List<CurvePoint> curve, double finalValLoss, double tokensPerSecond, double seconds) {
    this(
        curve,
        finalValLoss,
        tokensPerSecond,
        seconds,
        curve.isEmpty() ? 0 : curve.get(curve.size() - 1).step(),
        finalValLoss,
        0);
  }

  /** Whether early stopping ended the run before its last step. */
  public boolean stoppedEarly() {
    return stoppedEarlyAt > 0;
  }

  /** Losses at one step. */
  public record CurvePoint(int step, double trainLoss, double valLoss) {}
}
