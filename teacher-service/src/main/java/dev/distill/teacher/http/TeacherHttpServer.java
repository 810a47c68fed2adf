package dev.distill.teacher.http;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.teacher.inference.DynamicBatcher;
import dev.distill.teacher.inference.LabeledSequence;
import dev.distill.teacher.inference.Teacher;
import dev.distill.teacher.inference.TeacherException;
import dev.distill.teacher.service.TeacherMetrics;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The teacher's HTTP API on the JDK {@link HttpServer}:
 *
 * <ul>
 *   <li>{@code POST /v1/soft-labels}: {@code {"text": ..., "k": ...}} or {@code {"tokens": [...]}}
 *       in; top-k ids and probabilities at the server's T, tail mass, statistics and provenance
 *       out.
 *   <li>{@code POST /v1/completions} ({@link CompletionsHandler}) and {@code POST
 *       /v1/chat/completions} ({@link ChatCompletionsHandler}): OpenAI-compatible, whole or
 *       streamed ({@link Sse}); log-probabilities are the model's own (T = 1), as vLLM reports
 *       them. For a teacher with {@link Teacher#textGeneration()} (every in-process one).
 *   <li>{@code GET /healthz}, {@code GET /readyz}, {@code GET /metrics} (Prometheus).
 * </ul>
 *
 * Safety: bearer-token auth compared in constant time ({@link MessageDigest#isEqual}) on every
 * endpoint but the two probes; a non-loopback bind needs a token ({@link ServerConfig}); bodies
 * over the limit get 413 (checked on Content-Length and while reading); {@code k} and {@code
 * max_tokens} over the limits get 400; a wrong method gets 405 with {@code Allow}; at most {@code
 * maxInFlight} requests reach the teacher, more get 503 with {@code Retry-After}. Logs carry
 * method, path and status only: never headers or bodies.
 *
 * <p>Every request is answered (issue 17). Before any error answer the rest of the request body is
 * read and discarded, up to {@link #DRAIN_LIMIT_BYTES}: the JDK server otherwise drains only 64 KiB
 * and closes the socket with unread bytes, which resets the connection and loses the 413 or 401 the
 * client was about to read. When the worker pool ({@code threads}) and its queue ({@code threads *
 * 64}) are full, the JDK server would close the new connection without a word; instead the request
 * runs on a small overload pool that answers 503 with {@code Retry-After} at once (counted as
 * {@code distill_http_rejected_requests_total{reason="overloaded"}}). Only when that pool's own
 * queue ({@link #OVERLOAD_QUEUE} connections) is full too is a connection closed unanswered,
 * counted as {@code reason="dropped"}.
 */
public final class TeacherHttpServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TeacherHttpServer.class);
  private static final Gson GSON = new Gson();

  private static final long REQUEST_TIMEOUT_SECONDS = 120;

  /** Most bytes of a request body read and discarded before an error answer. */
  static final long DRAIN_LIMIT_BYTES = 16L << 20;

  /** Connections waiting for the overload pool before the JDK server may close one unanswered. */
  static final int OVERLOAD_QUEUE = 4096;

  /**
   * Set while the overload pool runs a request: it is answered 503 without touching the teacher.
   */
  private static final ThreadLocal<Boolean> OVERLOADED = ThreadLocal.withInitial(() -> false);

  private final ServerConfig config;
  private final Teacher teacher;
  private final DynamicBatcher batcher;
  private final TeacherMetrics metrics;
  private final HttpServer server;
  private final ThreadPoolExecutor executor;
  private final ThreadPoolExecutor overload;
  private final Semaphore admission;
  private final byte[] expectedAuth;
  private final OpenAiEndpoint completions;
  private final OpenAiEndpoint chatCompletions;
  private volatile boolean ready;

  /** A request error answered with its status and a JSON message. */
  private static final class HttpError extends Exception {
    final int status;

    /** The {@code Allow} header of a 405; null otherwise. */
    final String allow;

    HttpError(int status, String message) {
      this(status, message, null);
    }

    HttpError(int status, String message, String allow) {
      super(message);
      this.status = status;
      this.allow = allow;
    }
  }

  public TeacherHttpServer(ServerConfig config, Teacher teacher, TeacherMetrics metrics)
      throws IOException {
    this.config = config;
    this.teacher = teacher;
    this.metrics = metrics;
    this.batcher =
        new DynamicBatcher(
            teacher, config.tokenBudget(), config.maxWait(), config.maxInFlight(), metrics);
    this.admission = new Semaphore(config.maxInFlight());
    this.completions = new CompletionsHandler(teacher, config, metrics);
    this.chatCompletions = new ChatCompletionsHandler(teacher, config, metrics);
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

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  public void start() {
    server.start();
    ready = true;
    LOG.info("teacher HTTP API listening on {} ({})", baseUri(), config);
  }

  /** e.g. {@code http://127.0.0.1:43121} */
  public String baseUri() {
    InetSocketAddress a = server.getAddress();
    return "http://" + a.getAddress().getHostAddress() + ":" + a.getPort();
  }

  private void dispatch(HttpExchange ex) throws IOException {
    long start = System.nanoTime();
    String path = ex.getRequestURI().getPath();
    String endpoint = endpointName(path);
    int status;
    try {
      if (OVERLOADED.get() && !isProbe(path)) {
        metrics.rejected("overloaded");
        throw new HttpError(503, "the server is overloaded; retry later");
      }
      status = route(ex, path);
    } catch (HttpError e) {
      status = e.status;
      JsonObject err = new JsonObject();
      JsonObject inner = new JsonObject();
      inner.addProperty("message", e.getMessage());
      inner.addProperty("code", e.status);
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
      drain(ex);
      sendJson(ex, e.status, err);
    } catch (RuntimeException e) {
      status = 500;
      LOG.warn("{} {} failed", ex.getRequestMethod(), endpoint, e);
      JsonObject err = new JsonObject();
      err.addProperty("error", "internal error");
      drain(ex);
      sendJson(ex, 500, err);
    } finally {
      ex.close();
    }
    metrics.request(endpoint, status, System.nanoTime() - start);
    LOG.debug("{} {} -> {}", ex.getRequestMethod(), endpoint, status);
  }

  private static boolean isProbe(String path) {
    return path.equals("/healthz") || path.equals("/readyz");
  }

  /**
   * Reads and discards what is left of the request body, up to {@link #DRAIN_LIMIT_BYTES}, so that
   * the error answer is not lost to a connection reset; a longer body closes the connection after
   * the answer instead.
   */
  private static void drain(HttpExchange ex) {
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

  private static String endpointName(String path) {
    return switch (path) {
      case "/v1/soft-labels",
          "/v1/completions",
          "/v1/chat/completions",
          "/healthz",
          "/readyz",
          "/metrics" ->
          path;
      default -> "other";
    };
  }

  private int route(HttpExchange ex, String path) throws IOException, HttpError {
    String method = ex.getRequestMethod();
    if (path.equals("/healthz")) {
      return sendText(ex, 200, "ok\n");
    }
    if (path.equals("/readyz")) {
      boolean ok = ready && batcher.running();
      return sendText(ex, ok ? 200 : 503, ok ? "ready\n" : "not ready\n");
    }
    authorize(ex);
    switch (path) {
      case "/metrics":
        requireMethod(method, "GET");
        ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        return send(ex, 200, metrics.scrape().getBytes(StandardCharsets.UTF_8));
      case "/v1/soft-labels":
        requireMethod(method, "POST");
        return sendJson(ex, 200, admitted(() -> softLabels(readJson(ex))));
      case "/v1/completions":
        requireMethod(method, "POST");
        return openAi(ex, completions);
      case "/v1/chat/completions":
        requireMethod(method, "POST");
        return openAi(ex, chatCompletions);
      default:
        throw new HttpError(404, "no such endpoint");
    }
  }

  private interface Work {
    JsonObject run() throws IOException, HttpError;
  }

  /** Runs teacher work under an admission permit, released before the response is sent. */
  private JsonObject admitted(Work work) throws IOException, HttpError {
    if (!admission.tryAcquire()) {
      metrics.rejected("queue_full");
      throw new HttpError(503, "the teacher queue is full; retry later");
    }
    try {
      return work.run();
    } catch (NumberFormatException
        | UnsupportedOperationException
        | IllegalStateException
        | ClassCastException e) {
      // Gson's typed accessors throw these when a field has the wrong JSON type.
      throw new HttpError(400, "a request field has the wrong type");
    } finally {
      admission.release();
    }
  }

  /**
   * An OpenAI-compatible endpoint ({@link CompletionsHandler}, {@link ChatCompletionsHandler})
   * under an admission permit held until its answer is sent: a streamed answer is teacher work
   * until the last event.
   */
  private int openAi(HttpExchange ex, OpenAiEndpoint endpoint) throws IOException, HttpError {
    JsonObject req = readJson(ex);
    if (!admission.tryAcquire()) {
      metrics.rejected("queue_full");
      throw new HttpError(503, "the teacher queue is full; retry later");
    }
    try {
      return endpoint.handle(ex, req);
    } catch (ApiError e) {
      throw new HttpError(e.status, e.getMessage());
    } catch (NumberFormatException
        | UnsupportedOperationException
        | IllegalStateException
        | ClassCastException e) {
      // Gson's typed accessors throw these when a field has the wrong JSON type.
      throw new HttpError(400, "a request field has the wrong type");
    } finally {
      admission.release();
    }
  }

  private void authorize(HttpExchange ex) throws HttpError {
    if (expectedAuth == null) {
      return;
    }
    String given = ex.getRequestHeaders().getFirst("Authorization");
    byte[] g = given == null ? new byte[0] : given.getBytes(StandardCharsets.UTF_8);
    // Constant time in the content (isEqual does not stop at the first differing byte).
    if (!MessageDigest.isEqual(expectedAuth, g)) {
      metrics.rejected("unauthorized");
      throw new HttpError(401, "missing or invalid bearer token");
    }
  }

  private static void requireMethod(String method, String expected) throws HttpError {
    if (!method.equals(expected)) {
      throw new HttpError(405, "use " + expected, expected);
    }
  }

  private JsonObject readJson(HttpExchange ex) throws IOException, HttpError {
    String length = ex.getRequestHeaders().getFirst("Content-Length");
    if (length != null) {
      try {
        if (Long.parseLong(length.trim()) > config.maxBodyBytes()) {
          metrics.rejected("body_too_large");
          throw new HttpError(413, "request body over " + config.maxBodyBytes() + " bytes");
        }
      } catch (NumberFormatException e) {
        throw new HttpError(400, "bad Content-Length");
      }
    }
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    // Not closed here: on 413 the dispatcher drains the rest before answering (see drain).
    InputStream in = ex.getRequestBody();
    byte[] chunk = new byte[8192];
    int n;
    while ((n = in.read(chunk)) > 0) {
      if (buf.size() + n > config.maxBodyBytes()) {
        metrics.rejected("body_too_large");
        throw new HttpError(413, "request body over " + config.maxBodyBytes() + " bytes");
      }
      buf.write(chunk, 0, n);
    }
    String text;
    try {
      text =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(buf.toByteArray()))
              .toString();
    } catch (CharacterCodingException e) {
      throw new HttpError(400, "request body is not valid UTF-8");
    }
    try {
      JsonElement e = JsonParser.parseString(text);
      if (!e.isJsonObject()) {
        throw new HttpError(400, "request body must be a JSON object");
      }
      return e.getAsJsonObject();
    } catch (JsonParseException e) {
      throw new HttpError(400, "request body is not valid JSON");
    }
  }

  private static int intField(JsonObject o, String name, int dflt) throws HttpError {
    JsonElement e = o.get(name);
    if (e == null || e.isJsonNull()) {
      return dflt;
    }
    try {
      double d = e.getAsDouble();
      if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE) {
        throw new HttpError(400, name + " must be an integer");
      }
      return (int) d;
    } catch (NumberFormatException | UnsupportedOperationException | IllegalStateException x) {
      throw new HttpError(400, name + " must be an integer");
    }
  }

  private int[] tokensOf(JsonObject req) throws HttpError {
    JsonElement text = req.get("text");
    JsonElement tokens = req.get("tokens");
    if ((text == null) == (tokens == null)) {
      throw new HttpError(400, "give exactly one of text and tokens");
    }
    if (text != null) {
      if (!text.isJsonPrimitive() || !text.getAsJsonPrimitive().isString()) {
        throw new HttpError(400, "text must be a string");
      }
      return encode(text.getAsString());
    }
    if (!tokens.isJsonArray()) {
      throw new HttpError(400, "tokens must be an array of integers");
    }
    JsonArray a = tokens.getAsJsonArray();
    int[] ids = new int[a.size()];
    int vocab = teacher.provenance().getVocabSize();
    for (int i = 0; i < ids.length; i++) {
      try {
        ids[i] = a.get(i).getAsInt();
      } catch (RuntimeException e) {
        throw new HttpError(400, "tokens[" + i + "] is not an integer");
      }
      if (ids[i] < 0 || ids[i] >= vocab) {
        throw new HttpError(400, "tokens[" + i + "] = " + ids[i] + " outside [0, " + vocab + ")");
      }
    }
    return ids;
  }

  private int[] encode(String text) throws HttpError {
    try {
      return teacher.encode(text);
    } catch (IllegalArgumentException e) {
      throw new HttpError(400, e.getMessage());
    }
  }

  private JsonObject softLabels(JsonObject req) throws HttpError {
    Provenance prov = teacher.provenance();
    int k = intField(req, "k", prov.getTopK());
    if (k < 1 || k > Math.min(config.maxK(), prov.getTopK())) {
      throw new HttpError(
          400, "k must be in [1, " + Math.min(config.maxK(), prov.getTopK()) + "], got " + k);
    }
    JsonElement t = req.get("temperature");
    if (t != null && !t.isJsonNull() && t.getAsFloat() != prov.getTemperature()) {
      throw new HttpError(
          400, "this teacher labels at temperature " + prov.getTemperature() + " only");
    }
    int[] tokens = tokensOf(req);
    if (tokens.length < 2 || tokens.length > teacher.maxSequenceTokens()) {
      throw new HttpError(
          400,
          "sequence has "
              + tokens.length
              + " tokens; the teacher labels 2 to "
              + teacher.maxSequenceTokens());
    }
    LabeledSequence seq = await(tokens);
    SoftLabels l = seq.labels();
    JsonArray ids = new JsonArray();
    JsonArray probs = new JsonArray();
    JsonArray tail = new JsonArray();
    for (int p = 0; p < l.positions(); p++) {
      JsonArray pi = new JsonArray();
      JsonArray pp = new JsonArray();
      double dropped = 0;
      for (int j = 0; j < l.k(); j++) {
        if (j < k) {
          pi.add(l.id(p, j));
          pp.add(l.prob(p, j));
        } else {
          dropped += l.prob(p, j);
        }
      }
      ids.add(pi);
      probs.add(pp);
      // Asking for fewer than the teacher's k moves the dropped probabilities into the tail.
      tail.add((float) (l.tail(p) + dropped));
    }
    JsonObject out = new JsonObject();
    JsonArray toks = new JsonArray();
    for (int id : tokens) {
      toks.add(id);
    }
    out.add("tokens", toks);
    out.addProperty("positions", l.positions());
    out.addProperty("k", k);
    out.addProperty("temperature", prov.getTemperature());
    out.add("top_ids", ids);
    out.add("top_probs", probs);
    out.add("tail_mass", tail);
    JsonObject stats = new JsonObject();
    stats.addProperty("mean_entropy", seq.meanEntropy());
    stats.addProperty("mean_top1_margin", seq.meanTop1Margin());
    stats.addProperty("mean_topk_mass", seq.meanTopkMass());
    stats.addProperty("label_outside_topk_rate", seq.labelOutsideTopkRate());
    out.add("stats", stats);
    out.add("provenance", JsonParser.parseString(prov.toString()));
    return out;
  }

  private LabeledSequence await(int[] tokens) throws HttpError {
    try {
      return batcher.submit(tokens).get(REQUEST_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (RejectedExecutionException e) {
      metrics.rejected("queue_full");
      throw new HttpError(503, "the teacher queue is full; retry later");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new HttpError(503, "interrupted");
    } catch (TimeoutException e) {
      throw new HttpError(503, "the teacher did not answer in time");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof TeacherException te && !te.retryable()) {
        throw new HttpError(400, te.getMessage());
      }
      LOG.warn("teacher failed", e.getCause());
      throw new HttpError(503, "the teacher failed; retry later");
    }
  }

  private static int sendJson(HttpExchange ex, int status, JsonObject body) throws IOException {
    ex.getResponseHeaders().set("Content-Type", "application/json");
    return send(ex, status, GSON.toJson(body).getBytes(StandardCharsets.UTF_8));
  }

  private static int sendText(HttpExchange ex, int status, String body) throws IOException {
    ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
    return send(ex, status, body.getBytes(StandardCharsets.UTF_8));
  }

  private static int send(HttpExchange ex, int status, byte[] body) throws IOException {
    ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(body);
    }
    return status;
  }

  public TeacherMetrics metrics() {
    return metrics;
  }

  /** Stops accepting, lets running requests finish (up to 2 s), then stops the batcher. */
  @Override
  public void close() {
    ready = false;
    // HttpServer.stop(n) waits the full n seconds while idle keep-alive connections are open, so
    // wait for admitted requests ourselves, then stop at once.
    try {
      if (admission.tryAcquire(config.maxInFlight(), 2, TimeUnit.SECONDS)) {
        admission.release(config.maxInFlight());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    server.stop(0);
    batcher.close();
    executor.shutdown();
    overload.shutdown();
  }
}
