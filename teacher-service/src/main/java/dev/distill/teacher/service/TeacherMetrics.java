package dev.distill.teacher.service;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * The service's Prometheus metrics. Names and tags are fixed here; no request content, header or
 * configuration value (tokens, passwords) ever becomes a tag, so {@code /metrics} cannot leak a
 * secret.
 */
public final class TeacherMetrics {
  private final PrometheusMeterRegistry registry =
      new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Counter tokens;
  private final DistributionSummary batchSequences;
  private final DistributionSummary batchTokens;
  private final AtomicLong lastTokensPerSecond = new AtomicLong();

  public TeacherMetrics() {
    tokens =
        Counter.builder("distill_teacher_labelled_tokens")
            .description("Soft-labelled positions; rate() of it is tokens/s")
            .register(registry);
    batchSequences =
        DistributionSummary.builder("distill_teacher_batch_sequences")
            .description("Sequences per teacher forward batch")
            .publishPercentileHistogram()
            .register(registry);
    batchTokens =
        DistributionSummary.builder("distill_teacher_batch_tokens")
            .description("Tokens per teacher forward batch")
            .publishPercentileHistogram()
            .register(registry);
    Gauge.builder("distill_teacher_tokens_per_second", lastTokensPerSecond, AtomicLong::get)
        .description("Soft-labelled tokens per second of the last forward batch")
        .register(registry);
  }

  /** Registers the queue depth gauge (once). */
  public void queueDepth(Supplier<Number> depth) {
    Gauge.builder("distill_teacher_queue_depth", depth)
        .description("Requests waiting for the teacher")
        .register(registry);
  }

  public void batch(int sequences, long batchTokenCount, long positions, long nanos) {
    batchSequences.record(sequences);
    batchTokens.record(batchTokenCount);
    tokens.increment(positions);
    if (nanos > 0) {
      lastTokensPerSecond.set(positions * 1_000_000_000L / nanos);
    }
  }

  public void request(String endpoint, int status, long nanos) {
    Timer.builder("distill_http_request_seconds")
        .description("HTTP request latency")
        .tag("endpoint", endpoint)
        .tag("status", Integer.toString(status))
        .publishPercentileHistogram()
        .register(registry)
        .record(Duration.ofNanos(nanos));
  }

  public void rejected(String reason) {
    registry.counter("distill_http_rejected_requests", "reason", reason).increment();
  }

  public void deadLettered(String reason) {
    registry.counter("distill_teacher_dlq_records", "reason", reason).increment();
  }

  public double deadLetteredCount(String reason) {
    Counter c = registry.find("distill_teacher_dlq_records").tag("reason", reason).counter();
    return c == null ? 0 : c.count();
  }

  public void outputs(int records) {
    registry.counter("distill_teacher_output_records").increment(records);
  }

  /** Committed rationales, and how many of them reached an answer (the pattern matched). */
  public void rationales(long sampled, long answered) {
    registry.counter("distill_teacher_rationales").increment(sampled);
    registry.counter("distill_teacher_rationales_answered").increment(answered);
  }

  public double rationalesCount() {
    Counter c = registry.find("distill_teacher_rationales").counter();
    return c == null ? 0 : c.count();
  }

  /** The Prometheus text exposition. */
  public String scrape() {
    return registry.scrape();
  }
}
