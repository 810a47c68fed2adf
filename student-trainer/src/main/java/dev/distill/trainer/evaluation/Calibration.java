package dev.distill.trainer.evaluation;

/**
 * Reliability of a model's top-1 confidence: positions binned by the probability of the model's
 * argmax token, each bin's mean confidence against its accuracy (argmax == true next token).
 * Expected calibration error is {@code sum_b (n_b / N) |acc_b - conf_b|} (Guo et al., "On
 * Calibration of Modern Neural Networks", 2017), with equal-width bins.
 */
public record Calibration(double ece, double[] confidence, double[] accuracy, long[] count) {

  /** Accumulates positions into {@code bins} equal-width confidence bins. */
  public static final class Builder {
    private final double[] confSum;
    private final long[] correct;
    private final long[] count;

    public Builder(int bins) {
      confSum = new double[bins];
      correct = new long[bins];
      count = new long[bins];
    }

    public void add(double confidence, boolean isCorrect) {
      int b = Math.min(count.length - 1, (int) (confidence * count.length));
      confSum[b] += confidence;
      correct[b] += isCorrect ? 1 : 0;
      count[b]++;
    }

    public Calibration build() {
      int bins = count.length;
      double[] conf = new double[bins];
      double[] acc = new double[bins];
      long total = 0;
      for (long c : count) {
        total += c;
      }
      double ece = 0;
      for (int b = 0; b < bins; b++) {
        if (count[b] > 0) {
          conf[b] = confSum[b] / count[b];
          acc[b] = (double) correct[b] / count[b];
          ece += (double) count[b] / total * Math.abs(acc[b] - conf[b]);
        }
      }
      return new Calibration(ece, conf, acc, count.clone());
    }
  }
}
