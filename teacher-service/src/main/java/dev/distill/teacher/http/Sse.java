package dev.distill.teacher.http;

import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A server-sent-events answer as the OpenAI API streams one, and as the {@code openai} SDKs parse
 * it: status 200, {@code Content-Type: text/event-stream}, chunked; each event {@code data: JSON}
 * and a blank line, flushed at once; the stream ends with {@code data: [DONE]}. A failure after the
 * first event cannot change the status any more: it is sent as an event {@code {"error": {...}}}
 * before {@code [DONE]}, as vLLM does.
 */
final class Sse implements AutoCloseable {
  private final OutputStream out;

  private Sse(OutputStream out) {
    this.out = out;
  }

  /** Sends the headers: the status is 200 from here on. */
  static Sse start(HttpExchange ex) throws IOException {
    ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
    ex.getResponseHeaders().set("Cache-Control", "no-cache");
    ex.sendResponseHeaders(200, 0); // 0: chunked
    return new Sse(ex.getResponseBody());
  }

  /** One event: {@code data} as JSON ({@link GenerationHandler#GSON}: the OpenAI conventions). */
  void event(Object data) throws IOException {
    write("data: " + GenerationHandler.GSON.toJson(data) + "\n\n");
  }

  void error(int code, String message) throws IOException {
    JsonObject inner = new JsonObject();
    inner.addProperty("message", message);
    inner.addProperty("code", code);
    JsonObject e = new JsonObject();
    e.add("error", inner);
    event(e);
  }

  void done() throws IOException {
    write("data: [DONE]\n\n");
  }

  private void write(String s) throws IOException {
    out.write(s.getBytes(StandardCharsets.UTF_8));
    out.flush();
  }

  @Override
  public void close() throws IOException {
    out.close();
  }
}
