package dev.distill.teacher.http;

import dev.distill.teacher.inference.DynamicBatcher;
import dev.distill.teacher.inference.Teacher;
import dev.distill.teacher.service.TeacherMetrics;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The teacher's HTTP API: the endpoints below on one {@link HttpTransport} (auth, body limits,
 * admission, overload, error mapping; see there), each endpoint a handler of its own:
 *
 * <ul>
 *   <li>{@code POST /v1/soft-labels} ({@link SoftLabelsHandler}): {@link SoftLabelsRequest} in
 *       ({@code {"text": ..., "k": ...}} or {@code {"tokens": [...]}}), {@link SoftLabelsResponse}
 *       out (top-k ids and probabilities at the server's T, tail mass, statistics, provenance).
 *       Concurrent requests share teacher batches through one {@link DynamicBatcher}.
 *   <li>{@code POST /v1/completions} ({@link CompletionsHandler}) and {@code POST
 *       /v1/chat/completions} ({@link ChatCompletionsHandler}): OpenAI-compatible, whole or
 *       streamed ({@link Sse}); log-probabilities are the model's own (T = 1), as vLLM reports
 *       them. For a teacher with {@link Teacher#textGeneration()} (every in-process one).
 *   <li>{@code GET /healthz}, {@code GET /readyz} ({@link ProbeHandler}, no auth), {@code GET
 *       /metrics} ({@link MetricsHandler}, Prometheus).
 * </ul>
 */
public final class TeacherHttpServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TeacherHttpServer.class);

  /** Longest wait of a soft-labels request for its batch. */
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(120);

  /** Longest wait of {@link #close()} for admitted requests to finish. */
  private static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(2);

  private final ServerConfig config;
  private final TeacherMetrics metrics;
  private final DynamicBatcher batcher;
  private final HttpTransport transport;
  private volatile boolean ready;

  public TeacherHttpServer(ServerConfig config, Teacher teacher, TeacherMetrics metrics)
      throws IOException {
    this.config = config;
    this.metrics = metrics;
    this.batcher =
        new DynamicBatcher(
            teacher, config.tokenBudget(), config.maxWait(), config.maxInFlight(), metrics);
    this.transport =
        new HttpTransport(
            config,
            metrics,
            List.of(
                new HttpTransport.Route.Get("/healthz", true, ProbeHandler.health()),
                new HttpTransport.Route.Get(
                    "/readyz", true, ProbeHandler.readiness(() -> ready && batcher.running())),
                new HttpTransport.Route.Get("/metrics", false, new MetricsHandler(metrics)),
                new HttpTransport.Route.Post(
                    "/v1/soft-labels",
                    new SoftLabelsHandler(
                        teacher, batcher, config.maxK(), REQUEST_TIMEOUT, metrics)),
                new HttpTransport.Route.Post(
                    "/v1/completions", new CompletionsHandler(teacher, config, metrics)),
                new HttpTransport.Route.Post(
                    "/v1/chat/completions", new ChatCompletionsHandler(teacher, config, metrics))));
  }

  public void start() {
    transport.start();
    ready = true;
    LOG.info("teacher HTTP API listening on {} ({})", baseUri(), config);
  }

  /** e.g. {@code http://127.0.0.1:43121} */
  public String baseUri() {
    return transport.baseUri();
  }

  public TeacherMetrics metrics() {
    return metrics;
  }

  /**
   * Graceful stop: not ready, new teacher work answered 503, admitted requests finish (up to 2 s),
   * then the server and the batcher stop.
   */
  @Override
  public void close() {
    // Not ready only once new work is turned away: a 503 from /readyz means the drain has begun.
    transport.stopAdmitting();
    ready = false;
    if (!transport.drain(DRAIN_TIMEOUT)) {
      LOG.warn("HTTP requests still running after {}; stopping anyway", DRAIN_TIMEOUT);
    }
    transport.close();
    batcher.close();
  }
}
