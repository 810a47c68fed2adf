package dev.distill.teacher.http;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.distill.teacher.service.TeacherMetrics;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP transport of the teacher's API on the JDK {@link HttpServer}, and everything that is the
 * same for every endpoint: routing by path, the method check (405 with {@code Allow}), bearer-token
 * auth (401), request bodies (413 over the limit; not UTF-8 or not a JSON object: 400), admission
 * of teacher work (503 with {@code Retry-After}), overload, error mapping to our JSON error body
 * {@code {"error": {"message": ..., "code": status}}} and the request metrics. The endpoints
 * ({@link Route}) only see valid, authorised, admitted requests.
 *
 * <p>Auth compares {@code Authorization: Bearer <token>} in constant time ({@link
 * MessageDigest#isEqual}) on every route but the probes. Logs carry method, path and status only:
 * never headers or bodies.
 *
 * <p>Every request is answered (issue 17). Before any error answer the rest of the request body is
 * read and discarded, up to {@link #DRAIN_LIMIT_BYTES}: the JDK server otherwise drains only 64 KiB
 * and closes the socket with unread bytes, which resets the connection and loses the 413 or 401 the
 * client was about to read. When the worker pool ({@code threads}) and its queue ({@code threads *
 * 64}) are full, the JDK server would close the new connection without a word; instead the request
 * runs on a small overload pool that answers 503 with {@code Retry-After} at once (counted as
 * {@code distill_http_rejected_requests_total{reason="overloaded"}}). Only when that pool's own
 * queue ({@link #OVERLOAD_QUEUE} connections) is full too is a connection closed unanswered,
 * counted as {@code reason="dropped"}. At most {@code maxInFlight} {@link Route.Post} requests run
 * at once; more get 503 ({@code reason="queue_full"}), and so does every one after {@link
 * #drain(Duration)} began ({@code reason="shutting_down"}).
 */
final class HttpTransport implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(HttpTransport.class);

  /** Most bytes of a request body read and discarded before an error answer. */
  static final long DRAIN_LIMIT_BYTES = 16L << 20;

  /** Connections waiting for the overload pool before the JDK server may close one unanswered. */
  static final int OVERLOAD_QUEUE = 4096;

  /**
   * Set while the overload pool runs a request: it is answered 503 without touching the teacher.
   */
  private static final ThreadLocal<Boolean> OVERLOADED = ThreadLocal.withInitial(() -> false);

  /** A request body that is not JSON of the expected shape: Gson's typed accessors throw these. */
  private static boolean wrongType(RuntimeException e) {
    return e instanceof NumberFormatException
        || e instanceof UnsupportedOperationException
        || e instanceof IllegalStateException
        || e instanceof ClassCastException;
  }

  /** A {@code GET} endpoint: writes its own answer and returns the status. */
  interface GetEndpoint {
    int handle(HttpExchange ex) throws IOException;
  }

  /** One path and what serves it. */
  sealed interface Route permits Route.Get, Route.Post {
    String path();

    /**
     * {@code GET path}; a probe is answered without auth, for any method, and even when overloaded.
     */
    record Get(String path, boolean probe, GetEndpoint endpoint) implements Route {}

    /** {@code POST path} with a JSON object body: authorised, size-checked and admitted. */
    record Post(String path, JsonEndpoint endpoint) implements Route {}
  }

  private final ServerConfig config;
  private final TeacherMetrics metrics;
  private final Map<String, Route> routes = new LinkedHashMap<>();
  private final HttpServer server;
  private final ThreadPoolExecutor executor;
  private final ThreadPoolExecutor overload;
  private final Semaphore admission;
  private final byte[] expectedAuth;
  private volatile boolean draining;

  HttpTransport(ServerConfig config, TeacherMetrics metrics, List<Route> routes)
      throws IOException {
    this.config = config;
    this.metrics = metrics;
    for (Route r : routes) {
      if (this.routes.put(r.path(), r) != null) {
        throw new IllegalArgumentException("two routes for " + r.path());
      }
    }
    this.admission = new Semaphore(config.maxInFlight());
    this.expectedAuth =
        config.bearerToken() == null
            ? null
            : ("Bearer " + config.bearerToken()).getBytes(StandardCharsets.UTF_8);
    // Answers 503 to what the workers have no room for; two threads, as each answer is immediate.
    this.overload =
        new ThreadPoolExecutor(
            2,
            2,
            30,
            TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(OVERLOAD_QUEUE),
            daemon("teacher-http-overload"),
            (r, pool) -> {
              metrics.rejected("dropped");
              throw new RejectedExecutionException("overload queue full");
            });
    // Bounded workers and queue: the JDK default is one thread and an unbounded queue. What they
    // cannot take goes to the overload pool, never back to the JDK server, which would close it.
    this.executor =
        new ThreadPoolExecutor(
            config.threads(),
            config.threads(),
            30,
            TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(config.threads() * 64),
            daemon("teacher-http"),
            (r, pool) ->
                overload.execute(
                    () -> {
                      OVERLOADED.set(true);
                      try {
                        r.run();
                      } finally {
                        OVERLOADED.set(false);
                      }
                    }));
    this.server = HttpServer.create(new InetSocketAddress(config.host(), config.port()), 128);
    server.setExecutor(executor);
    server.createContext("/", this::dispatch);
  }

  private static ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  void start() {
    server.start();
  }

  /** e.g. {@code http://127.0.0.1:43121} */
  String baseUri() {
    InetSocketAddress a = server.getAddress();
    return "http://" + a.getAddress().getHostAddress() + ":" + a.getPort();
  }

  private void dispatch(HttpExchange ex) throws IOException {
    long start = System.nanoTime();
    String path = ex.getRequestURI().getPath();
    Route route = routes.get(path);
    String endpoint = route == null ? "other" : path;
    boolean probe = route instanceof Route.Get g && g.probe();
    int status;
    try {
      if (OVERLOADED.get() && !probe) {
        metrics.rejected("overloaded");
        throw new ApiError(503, "the server is overloaded; retry later");
      }
      status = serve(ex, route, probe);
    } catch (ApiError e) {
      status = e.status;
      answerError(ex, e);
    } catch (RuntimeException e) {
      status = 500;
      LOG.warn("{} {} failed", ex.getRequestMethod(), endpoint, e);
      answerError(ex, new ApiError(500, "internal error"));
    } finally {
      ex.close();
    }
    metrics.request(endpoint, status, System.nanoTime() - start);
    LOG.debug("{} {} -> {}", ex.getRequestMethod(), endpoint, status);
  }

  private int serve(HttpExchange ex, Route route, boolean probe) throws IOException, ApiError {
    if (probe) {
      return ((Route.Get) route).endpoint().handle(ex);
    }
    authorize(ex);
    if (route == null) {
      throw new ApiError(404, "no such endpoint");
    }
    String method = route instanceof Route.Get ? "GET" : "POST";
    if (!ex.getRequestMethod().equals(method)) {
      throw ApiError.methodNotAllowed(method);
    }
    if (route instanceof Route.Get g) {
      return g.endpoint().handle(ex);
    }
    JsonObject request = readJson(ex);
    if (draining) {
      metrics.rejected("shutting_down");
      throw new ApiError(503, "the server is shutting down; retry on another instance");
    }
    if (!admission.tryAcquire()) {
      metrics.rejected("queue_full");
      throw new ApiError(503, "the teacher queue is full; retry later");
    }
    // Held until the answer is sent: a streamed answer is teacher work until its last event.
    try {
      return ((Route.Post) route).endpoint().handle(ex, request);
    } catch (RuntimeException e) {
      if (wrongType(e)) {
        throw new ApiError(400, "a request field has the wrong type");
      }
      throw e;
    } finally {
      admission.release();
    }
  }

  /** Our JSON error body with the headers its status needs, after draining the request body. */
  private static void answerError(HttpExchange ex, ApiError e) throws IOException {
    JsonObject inner = new JsonObject();
    inner.addProperty("message", e.getMessage());
    inner.addProperty("code", e.status);
    JsonObject err = new JsonObject();
    err.add("error", inner);
    if (e.status == 503) {
      ex.getResponseHeaders().set("Retry-After", "1");
    }
    if (e.status == 401) {
      ex.getResponseHeaders().set("WWW-Authenticate", "Bearer");
    }
    if (e.allow != null) {
      ex.getResponseHeaders().set("Allow", e.allow);
    }
    drainBody(ex);
    Responses.json(ex, e.status, err);
  }

  /**
   * Reads and discards what is left of the request body, up to {@link #DRAIN_LIMIT_BYTES}, so that
   * the error answer is not lost to a connection reset; a longer body closes the connection after
   * the answer instead.
   */
  private static void drainBody(HttpExchange ex) {
    String length = ex.getRequestHeaders().getFirst("Content-Length");
    try {
      if (length != null && Long.parseLong(length.trim()) > DRAIN_LIMIT_BYTES) {
        ex.getResponseHeaders().set("Connection", "close");
        return;
      }
    } catch (NumberFormatException e) {
      ex.getResponseHeaders().set("Connection", "close");
      return;
    }
    byte[] skip = new byte[8192];
    long read = 0;
    try {
      InputStream in = ex.getRequestBody();
      int n;
      while ((n = in.read(skip)) > 0) {
        read += n;
        if (read > DRAIN_LIMIT_BYTES) {
          ex.getResponseHeaders().set("Connection", "close");
          return;
        }
      }
    } catch (IOException e) {
      ex.getResponseHeaders().set("Connection", "close");
    }
  }

  private void authorize(HttpExchange ex) throws ApiError {
    if (expectedAuth == null) {
      return;
    }
    String given = ex.getRequestHeaders().getFirst("Authorization");
    byte[] g = given == null ? new byte[0] : given.getBytes(StandardCharsets.UTF_8);
    // Constant time in the content (isEqual does not stop at the first differing byte).
    if (!MessageDigest.isEqual(expectedAuth, g)) {
      metrics.rejected("unauthorized");
      throw new ApiError(401, "missing or invalid bearer token");
    }
  }

  private JsonObject readJson(HttpExchange ex) throws IOException, ApiError {
    String length = ex.getRequestHeaders().getFirst("Content-Length");
    if (length != null) {
      try {
        if (Long.parseLong(length.trim()) > config.maxBodyBytes()) {
          throw tooLarge();
        }
      } catch (NumberFormatException e) {
        throw new ApiError(400, "bad Content-Length");
      }
    }
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    // Not closed here: on 413 the rest is drained before answering (see drainBody).
    InputStream in = ex.getRequestBody();
    byte[] chunk = new byte[8192];
    int n;
    while ((n = in.read(chunk)) > 0) {
      if (buf.size() + n > config.maxBodyBytes()) {
        throw tooLarge();
      }
      buf.write(chunk, 0, n);
    }
    String text;
    try {
      // A new decoder reports malformed input (CharsetDecoder's default action), never replaces it.
      text =
          StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(buf.toByteArray())).toString();
    } catch (CharacterCodingException e) {
      throw new ApiError(400, "request body is not valid UTF-8");
    }
    JsonElement e;
    try {
      e = JsonParser.parseString(text);
    } catch (JsonParseException x) {
      throw new ApiError(400, "request body is not valid JSON");
    }
    if (!e.isJsonObject()) {
      throw new ApiError(400, "request body must be a JSON object");
    }
    return e.getAsJsonObject();
  }

  private ApiError tooLarge() {
    metrics.rejected("body_too_large");
    return new ApiError(413, "request body over " + config.maxBodyBytes() + " bytes");
  }

  /** Graceful drain, first step: from now on new teacher work is answered 503. */
  void stopAdmitting() {
    draining = true;
  }

  /**
   * Graceful drain: {@link #stopAdmitting()}, then waits up to {@code timeout} for the admitted
   * requests to finish. True when they did.
   */
  boolean drain(Duration timeout) {
    stopAdmitting();
    try {
      if (admission.tryAcquire(config.maxInFlight(), timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        admission.release(config.maxInFlight());
        return true;
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return false;
  }

  /** Stops at once; call {@link #drain} first to let admitted requests finish. */
  @Override
  public void close() {
    // HttpServer.stop(n) waits the full n seconds while idle keep-alive connections are open, so
    // drain waits for admitted requests instead, and this stops at once.
    server.stop(0);
    executor.shutdown();
    overload.shutdown();
  }
}
