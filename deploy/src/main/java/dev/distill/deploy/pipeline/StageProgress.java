package dev.distill.deploy.pipeline;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Progress of one stage as periodic lines (at most one every two seconds, plus the last), which
 * read well on a console and in a scheduler's log alike.
 */
final class StageProgress {
  private final PrintStream out;
  private final String stage;
  private final long start = System.nanoTime();
  private long lastPrint;

  StageProgress(PrintStream out, String stage) {
    this.out = out;
    this.stage = stage;
  }

  void update(long done, long total, String detail) {
    long now = System.nanoTime();
    if (done < total && now - lastPrint < 2_000_000_000L) {
      return;
    }
    lastPrint = now;
    double elapsed = (now - start) / 1e9;
    double eta = done == 0 ? Double.NaN : elapsed * (total - done) / done;
    out.printf(
        Locale.ROOT,
        "[%s] %d/%d %3.0f%% %s elapsed %s eta %s%n",
        stage,
        done,
        total,
        100.0 * done / Math.max(1, total),
        detail,
        duration(elapsed),
        duration(eta));
  }

  /**
   * The training part of a progress line: {@code loss 3.9571 val 3.8120 9,582 tok/s}. The
   * validation loss is NaN until the loop's first evaluation; it prints as {@code val -} then, so a
   * NaN on the line always means a diverged loss, never "not measured yet".
   */
  static String trainingDetail(double trainLoss, double valLoss, double tokensPerSecond) {
    return String.format(
        Locale.ROOT,
        "loss %.4f val %s %,.0f tok/s",
        trainLoss,
        Double.isNaN(valLoss) ? "-" : String.format(Locale.ROOT, "%.4f", valLoss),
        tokensPerSecond);
  }

  static String duration(double seconds) {
    if (Double.isNaN(seconds)) {
      return "?";
    }
    long s = Math.round(seconds);
    return s >= 60 ? (s / 60) + "m" + String.format(Locale.ROOT, "%02d", s % 60) + "s" : s + "s";
  }
}
