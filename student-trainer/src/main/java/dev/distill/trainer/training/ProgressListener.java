package dev.distill.trainer.training;

/** Told about training progress; the command line turns it into a progress line. */
@FunctionalInterface
public interface ProgressListener {
  /**
   * @param step steps done
   * @param totalSteps steps planned
   * @param trainLoss loss of the last step
   * @param valLoss last validation loss, NaN before the first
   * @param tokensPerSecond throughput so far
   */
  void onStep(int step, int totalSteps, double trainLoss, double valLoss, double tokensPerSecond);

  ProgressListener NONE = (s, t, l, v, r) -> {};
}
