package dev.distill.teacher.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class RetryPolicyTest {
  private static final RetryPolicy THREE = new RetryPolicy(3, Duration.ZERO);

  /** A call that fails every time with {@code message + " " + try number}, counting its tries. */
  private static RetryPolicy.Attempt<String> failing(
      AtomicInteger tries, String message, boolean retryable) {
    return () -> {
      throw new TeacherException(message + " " + tries.incrementAndGet(), retryable);
    };
  }

  @Test
  void aRetryableFailureIsRetriedUntilItSucceeds() throws Exception {
    AtomicInteger tries = new AtomicInteger();
    RetryPolicy.Attempt<String> twiceFailing = failing(tries, "HTTP 503", true);
    String out = THREE.run(() -> tries.get() < 2 ? twiceFailing.call() : "ok", () -> true);
    assertThat(out).isEqualTo("ok");
    assertThat(tries).hasValue(2);
  }

  @Test
  void afterTheLastRetryTheLastFailureIsThrown() {
    AtomicInteger tries = new AtomicInteger();
    assertThatThrownBy(() -> THREE.run(failing(tries, "timeout", true), () -> true))
        .isInstanceOf(TeacherException.class)
        .hasMessage("timeout 4");
    assertThat(tries).hasValue(4);
  }

  @Test
  void aFatalFailureOrAStopRequestEndsAtOnce() {
    AtomicInteger tries = new AtomicInteger();
    assertThatThrownBy(() -> THREE.run(failing(tries, "HTTP 400", false), () -> true))
        .hasMessage("HTTP 400 1");
    assertThatThrownBy(() -> THREE.run(failing(tries, "HTTP 503", true), () -> false))
        .hasMessage("HTTP 503 2");
  }

  @Test
  void theWaitsDoubleFromTheBackoff() {
    RetryPolicy p = new RetryPolicy(2, Duration.ofMillis(40));
    AtomicInteger tries = new AtomicInteger();
    long start = System.nanoTime();
    assertThatThrownBy(() -> p.run(failing(tries, "x", true), () -> true)).hasMessage("x 3");
    // Waits of at least 40 and 80 ms: a lower bound, so load cannot make it fail.
    assertThat((System.nanoTime() - start) / 1_000_000).isGreaterThanOrEqualTo(120);
  }

  @Test
  void badSettingsAreRefused() {
    assertThatThrownBy(() -> new RetryPolicy(-1, Duration.ZERO)).hasMessageContaining("retries");
    assertThatThrownBy(() -> new RetryPolicy(0, Duration.ofMillis(-1)))
        .hasMessageContaining("backoff");
  }
}
