package dev.distill.teacher.http;

import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;

/**
 * An OpenAI-compatible endpoint: it writes its own answer, JSON or a stream of server-sent events
 * ({@link Sse}), and returns the status. Before anything is sent, a bad request is an {@link
 * ApiError}; after the first event, errors go into the stream.
 */
interface OpenAiEndpoint {
  int handle(HttpExchange ex, JsonObject request) throws IOException, ApiError;
}
