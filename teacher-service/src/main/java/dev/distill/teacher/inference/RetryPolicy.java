package dev.distill.teacher.inference;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BooleanSupplier;

/**
 * Retries of a teacher call with exponential backoff and jitter: after failed try {@code n}
 * (counting from 0) it waits {@code backoff * 2^n} plus a random share of up to half of that, then
 * tries again, at most {@code retries} times. Only a {@link TeacherException#retryable()} failure
 * is retried; a fatal one, an interrupt or a stop request ends at once.
 *
 * @param retries tries after the first one, >= 0
 * @param backoff the first wait, >= 0
 */
public record RetryPolicy(int retries, Duration backoff) {
  public RetryPolicy {
    if (retries < 0) {
      throw new IllegalArgumentException("retries must be >= 0, got " + retries);
    }
    if (backoff == null || backoff.isNegative()) {
      throw new IllegalArgumentException("backoff must be >= 0, got " + backoff);
    }
  }

  /** One try of the call. */
  public interface Attempt<T> {
    T call() throws TeacherException;
  }

  /**
   * Runs {@code attempt} until it succeeds; the failure that ends the retries (fatal, the last try,
   * or {@code keepGoing} false) is thrown as is. An interrupt during a wait is a retryable {@code
   * TeacherException("interrupted")} with the thread's interrupt flag set again.
   */
  public <T> T run(Attempt<T> attempt, BooleanSupplier keepGoing) throws TeacherException {
    long delay = backoff.toMillis();
    for (int n = 0; ; n++) {
      try {
        return attempt.call();
      } catch (TeacherException e) {
        if (!e.retryable()
            || n >= retries
            || Thread.currentThread().isInterrupted()
            || !keepGoing.getAsBoolean()) {
          throw e;
        }
      }
      try {
        Thread.sleep(delay + ThreadLocalRandom.current().nextLong(delay / 2 + 1));
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        throw new TeacherException("interrupted", true, ie);
      }
      delay *= 2;
    }
  }
}
