package dev.distill.trainer.training;

import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Training progress for people: on an interactive console, one bar redrawn in place ({@code \r});
 * in a log (a scheduler, a pipe, a file), a full line at most every {@code interval} plus the last
 * one, so logs stay readable and small. Both show step, loss, val loss ({@code -} before the first
 * validation pass), tokens/s, elapsed time and ETA.
 */
public final class ProgressPrinter implements ProgressListener {
  private static final int BAR_WIDTH = 24;

  private final PrintStream out;
  private final String label;
  private final boolean console;
  private final long intervalNanos;
  private final LongSupplier clock;
  private final long start;
  private long lastPrint = Long.MIN_VALUE;

  /**
   * @param console redraw one bar in place (true) or print periodic lines (false)
   * @param intervalNanos least time between two printed lines (the bar redraws at most 10x/s)
   * @param clock nanosecond clock ({@code System::nanoTime}; tests pass their own)
   */
  public ProgressPrinter(
      PrintStream out, String label, boolean console, long intervalNanos, LongSupplier clock) {
    if (intervalNanos < 0) {
      throw new IllegalArgumentException("interval must be >= 0, got " + intervalNanos);
    }
    this.out = out;
    this.label = label;
    this.console = console;
    this.intervalNanos = console ? Math.min(intervalNanos, 100_000_000L) : intervalNanos;
    this.clock = clock;
    this.start = clock.getAsLong();
  }

  /** For standard output: a bar when it is a terminal, a line every 10 s otherwise. */
  public static ProgressPrinter forStandardOutput(String label) {
    return new ProgressPrinter(
        System.out, label, System.console() != null, 10_000_000_000L, System::nanoTime);
  }

  @Override
  public void onStep(int step, int totalSteps, double trainLoss, double valLoss, double tps) {
    long now = clock.getAsLong();
    boolean last = step >= totalSteps;
    if (!last && lastPrint != Long.MIN_VALUE && now - lastPrint < intervalNanos) {
      return;
    }
    lastPrint = now;
    double elapsed = (now - start) / 1e9;
    double eta = step <= 0 ? Double.NaN : elapsed * (totalSteps - step) / step;
    String detail =
        String.format(
            Locale.ROOT,
            "%d/%d loss %.4f val %s %,.0f tok/s elapsed %s eta %s",
            step,
            totalSteps,
            trainLoss,
            Double.isNaN(valLoss) ? "-" : String.format(Locale.ROOT, "%.4f", valLoss),
            tps,
            duration(elapsed),
            duration(eta));
    if (console) {
      int filled = (int) Math.round(BAR_WIDTH * Math.min(1.0, (double) step / totalSteps));
      out.print(
          "\r["
              + label
              + "] |"
              + "#".repeat(filled)
              + " ".repeat(BAR_WIDTH - filled)
              + "| "
              + detail
              + (last ? "\n" : ""));
    } else {
      out.println("[" + label + "] " + detail);
    }
    out.flush();
  }

  /** {@code 1h02m}, {@code 3m05s}, {@code 12s}; {@code -} when unknown. */
  static String duration(double seconds) {
    if (!Double.isFinite(seconds) || seconds < 0) {
      return "-";
    }
    long s = Math.round(seconds);
    if (s >= 3600) {
      return String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
    }
    if (s >= 60) {
      return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    }
    return s + "s";
  }
}
