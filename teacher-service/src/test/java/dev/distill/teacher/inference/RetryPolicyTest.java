package dev.distill.teacher.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class RetryPolicyTest {
  private static final RetryPolicy THREE = new RetryPolicy(3, Duration.ZERO);

  @Test
  void aRetryableFailureIsRetriedUntilItSucceeds() throws Exception {
    AtomicInteger tries = new AtomicInteger();
    String out =
        THREE.run(
            () -> {
              if (tries.incrementAndGet() < 3) {
                throw new TeacherException("HTTP 503", true);
              }
              return "ok";
            },
            () -> true);
    assertThat(out).isEqualTo("ok");
    assertThat(tries).hasValue(3);
  }

  @Test
  void afterTheLastRetryTheLastFailureIsThrown() {
    AtomicInteger tries = new AtomicInteger();
    assertThatThrownBy(
            () ->
                THREE.run(
                    () -> {
                      throw new TeacherException("timeout " + tries.incrementAndGet(), true);
                    },
                    () -> true))
        .isInstanceOf(TeacherException.class)
        .hasMessage("timeout 4");
    assertThat(tries).hasValue(4);
  }

  @Test
  void aFatalFailureOrAStopRequestEndsAtOnce() {
    AtomicInteger tries = new AtomicInteger();
    assertThatThrownBy(
            () ->
                THREE.run(
                    () -> {
                      tries.incrementAndGet();
                      throw new TeacherException("HTTP 400", false);
                    },
                    () -> true))
        .hasMessage("HTTP 400");
    assertThat(tries).hasValue(1);
    assertThatThrownBy(
            () ->
                THREE.run(
                    () -> {
                      tries.incrementAndGet();
                      throw new TeacherException("HTTP 503", true);
                    },
                    () -> false))
        .hasMessage("HTTP 503");
    assertThat(tries).hasValue(2);
  }

  @Test
  void theWaitsDoubleFromTheBackoff() throws Exception {
    RetryPolicy p = new RetryPolicy(2, Duration.ofMillis(40));
    AtomicInteger tries = new AtomicInteger();
    long start = System.nanoTime();
    assertThatThrownBy(
        () ->
            p.run(
                () -> {
                  tries.incrementAndGet();
                  throw new TeacherException("x", true);
                },
                () -> true));
    // Waits of at least 40 and 80 ms: a lower bound, so load cannot make it fail.
    assertThat((System.nanoTime() - start) / 1_000_000).isGreaterThanOrEqualTo(120);
    assertThat(tries).hasValue(3);
  }

  @Test
  void badSettingsAreRefused() {
    assertThatThrownBy(() -> new RetryPolicy(-1, Duration.ZERO)).hasMessageContaining("retries");
    assertThatThrownBy(() -> new RetryPolicy(0, Duration.ofMillis(-1)))
        .hasMessageContaining("backoff");
  }
}
