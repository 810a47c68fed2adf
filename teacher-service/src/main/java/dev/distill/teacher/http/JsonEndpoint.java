package dev.distill.teacher.http;

import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;

/**
 * A {@code POST} endpoint whose request body is a JSON object, read and size-checked by {@link
 * HttpTransport}. It writes its own answer (JSON, or a stream of server-sent events, {@link Sse})
 * and returns the status. Before anything is sent, a bad request is an {@link ApiError}; after the
 * first event, errors go into the stream.
 */
interface JsonEndpoint {
  int handle(HttpExchange ex, JsonObject request) throws IOException, ApiError;
}
