package dev.distill.trainer.io;

import dev.distill.trainer.training.ProgressListener;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Locale;

/**
 * Training metrics as JSON lines, one object per logged step: {@code step}, {@code total_steps},
 * {@code train_loss}, {@code val_loss} ({@code null} before the first validation pass), {@code
 * tokens_per_second}, {@code time} (ISO-8601). A line is written every {@code every} steps, at
 * every new validation loss, and at the last step, and flushed at once, so a killed run keeps what
 * it logged; a resumed run appends to the same file. Non-finite losses are written as {@code null}
 * (JSON has no NaN) with {@code "non_finite": true}.
 */
public final class MetricsLog implements ProgressListener, Closeable {
  private final Writer out;
  private final Path file;
  private final int every;
  private double lastVal = Double.NaN;

  private MetricsLog(Writer out, Path file, int every) {
    this.out = out;
    this.file = file;
    this.every = every;
  }

  /** Opens {@code file} for appending (created with its parent folders when missing). */
  public static MetricsLog append(Path file, int every) throws IOException {
    if (every < 1) {
      throw new IllegalArgumentException("every must be >= 1, got " + every);
    }
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    return new MetricsLog(
        Files.newBufferedWriter(
            file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND),
        file,
        every);
  }

  @Override
  public void onStep(int step, int totalSteps, double trainLoss, double valLoss, double tps) {
    boolean newVal = !Double.isNaN(valLoss) && Double.compare(valLoss, lastVal) != 0;
    if (step % every != 0 && step != totalSteps && !newVal) {
      return;
    }
    if (!Double.isNaN(valLoss)) {
      lastVal = valLoss;
    }
    boolean nonFinite = !Double.isFinite(trainLoss) || Double.isInfinite(valLoss);
    String line =
        String.format(
            Locale.ROOT,
            "{\"step\":%d,\"total_steps\":%d,\"train_loss\":%s,\"val_loss\":%s,"
                + "\"tokens_per_second\":%s,\"time\":\"%s\"%s}%n",
            step,
            totalSteps,
            number(trainLoss),
            number(valLoss),
            number(tps),
            Instant.now(),
            nonFinite ? ",\"non_finite\":true" : "");
    write(line);
  }

  /**
   * Records that early stopping ended the run: {@code {"event":"early_stop","step":..,
   * "best_step":..,"best_val_loss":..,"time":..}}; the output holds the best pass's parameters.
   */
  public void earlyStop(int stoppedAt, int bestStep, double bestValLoss) {
    write(
        String.format(
            Locale.ROOT,
            "{\"event\":\"early_stop\",\"step\":%d,\"best_step\":%d,\"best_val_loss\":%s,"
                + "\"time\":\"%s\"}%n",
            stoppedAt,
            bestStep,
            number(bestValLoss),
            Instant.now()));
  }

  /**
   * On-policy distillation's cost so far (issue 15): {@code {"event":"on_policy","step":..,
   * "on_policy_batches":..,"batches":..,"teacher_tokens":..,"teacher_tokens_per_second":..,
   * "teacher_wait_share":..,"time":..}}; the wait share is the teacher's part of this process's
   * training wall time.
   */
  public void onPolicy(
      int step,
      long onPolicyBatches,
      long batches,
      long teacherTokens,
      double teacherTokensPerSecond,
      double teacherWaitShare) {
    write(
        String.format(
            Locale.ROOT,
            "{\"event\":\"on_policy\",\"step\":%d,\"on_policy_batches\":%d,\"batches\":%d,"
                + "\"teacher_tokens\":%d,\"teacher_tokens_per_second\":%s,"
                + "\"teacher_wait_share\":%s,\"time\":\"%s\"}%n",
            step,
            onPolicyBatches,
            batches,
            teacherTokens,
            number(teacherTokensPerSecond),
            number(teacherWaitShare),
            Instant.now()));
  }

  private void write(String line) {
    try {
      out.write(line);
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write training metrics to " + file, e);
    }
  }

  private static String number(double v) {
    return Double.isFinite(v) ? String.format(Locale.ROOT, "%.6g", v) : "null";
  }

  @Override
  public void close() throws IOException {
    out.close();
  }
}
