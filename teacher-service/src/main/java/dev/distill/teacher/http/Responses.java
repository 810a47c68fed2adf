package dev.distill.teacher.http;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** Whole (non-streamed) answers with a known length; streams are {@link Sse}. */
final class Responses {
  static final String JSON = "application/json";
  static final String TEXT = "text/plain; charset=utf-8";

  /** Our own bodies (soft labels, errors): members that are null are left out. */
  private static final Gson GSON = new Gson();

  private Responses() {}

  static int json(HttpExchange ex, int status, JsonObject body) throws IOException {
    return send(ex, status, JSON, GSON.toJson(body).getBytes(StandardCharsets.UTF_8));
  }

  static int text(HttpExchange ex, int status, String body) throws IOException {
    return send(ex, status, TEXT, body.getBytes(StandardCharsets.UTF_8));
  }

  /** Sends the status, {@code Content-Type} and body, then closes the body stream. */
  static int send(HttpExchange ex, int status, String contentType, byte[] body) throws IOException {
    ex.getResponseHeaders().set("Content-Type", contentType);
    // -1: no body at all (a 0 would mean chunked to the JDK server)
    ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(body);
    }
    return status;
  }
}
