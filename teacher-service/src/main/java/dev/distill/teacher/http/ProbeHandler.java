package dev.distill.teacher.http;

import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.util.function.BooleanSupplier;

/**
 * {@code GET /healthz} (the process answers) and {@code GET /readyz} (it takes work): 200 with
 * {@code ok}/{@code ready}, else 503 with {@code not ready}. Plain text, no auth.
 */
final class ProbeHandler implements HttpTransport.GetEndpoint {
  private final BooleanSupplier up;
  private final String body;

  private ProbeHandler(BooleanSupplier up, String body) {
    this.up = up;
    this.body = body;
  }

  static ProbeHandler health() {
    return new ProbeHandler(() -> true, "ok\n");
  }

  static ProbeHandler readiness(BooleanSupplier ready) {
    return new ProbeHandler(ready, "ready\n");
  }

  @Override
  public int handle(HttpExchange ex) throws IOException {
    boolean ok = up.getAsBoolean();
    return Responses.text(ex, ok ? 200 : 503, ok ? body : "not ready\n");
  }
}
