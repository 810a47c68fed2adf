package dev.distill.teacher.http;

import com.sun.net.httpserver.HttpExchange;
import dev.distill.teacher.service.TeacherMetrics;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/** {@code GET /metrics}: the Prometheus text exposition of {@link TeacherMetrics}. */
final class MetricsHandler implements HttpTransport.GetEndpoint {
  static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

  private final TeacherMetrics metrics;

  MetricsHandler(TeacherMetrics metrics) {
    this.metrics = metrics;
  }

  @Override
  public int handle(HttpExchange ex) throws IOException {
    return Responses.send(
        ex, 200, PROMETHEUS_TEXT, metrics.scrape().getBytes(StandardCharsets.UTF_8));
  }
}
