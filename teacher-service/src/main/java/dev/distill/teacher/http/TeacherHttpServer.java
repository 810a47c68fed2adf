package dev.distill.teacher.http;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.teacher.inference.DynamicBatcher;
import dev.distill.teacher.inference.LabeledSequence;
import dev.distill.teacher.inference.LocalTeacher;
import dev.distill.teacher.inference.LocalTeacher.TokenLogprob;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
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
 *   <li>{@code POST /v1/completions}: OpenAI-compatible (legacy completions) with {@code logprobs},
 *       {@code echo} and {@code max_tokens}; log-probabilities are the model's own (T = 1), as vLLM
 *       reports them. Only for an in-process teacher.
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

  /** Most completions one request may ask for ({@code n}). */
  static final int MAX_CHOICES = 64;

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
      case "/v1/soft-labels", "/v1/completions", "/healthz", "/readyz", "/metrics" -> path;
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
        return sendJson(ex, 200, admitted(() -> completions(readJson(ex))));
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

  private JsonObject completions(JsonObject req) throws HttpError {
    if (!(teacher instanceof LocalTeacher local)) {
      throw new HttpError(404, "completions are served for an in-process teacher only");
    }
    JsonElement promptEl = req.get("prompt");
    if (promptEl == null
        || !promptEl.isJsonPrimitive()
        || !promptEl.getAsJsonPrimitive().isString()) {
      throw new HttpError(400, "prompt must be a string (one prompt per request)");
    }
    int n = intField(req, "n", 1);
    if (n < 1 || n > MAX_CHOICES) {
      throw new HttpError(400, "n must be in [1, " + MAX_CHOICES + "]");
    }
    List<String> stop = stopStrings(req.get("stop"));
    int maxTokens = intField(req, "max_tokens", 16);
    if (maxTokens < 0 || maxTokens > config.maxTokens()) {
      throw new HttpError(400, "max_tokens must be in [0, " + config.maxTokens() + "]");
    }
    int logprobs = intField(req, "logprobs", -1);
    if (logprobs > Math.min(config.maxK(), teacher.provenance().getVocabSize())) {
      throw new HttpError(
          400,
          "logprobs must be at most "
              + Math.min(config.maxK(), teacher.provenance().getVocabSize()));
    }
    JsonElement tEl = req.get("temperature");
    float temperature = tEl == null || tEl.isJsonNull() ? 1f : tEl.getAsFloat();
    if (!(temperature >= 0f) || temperature > 100f) {
      throw new HttpError(400, "temperature must be in [0, 100]");
    }
    JsonElement echoEl = req.get("echo");
    boolean echo = echoEl != null && !echoEl.isJsonNull() && echoEl.getAsBoolean();
    long seed = req.has("seed") ? intField(req, "seed", 0) : new Random().nextLong();
    String prompt = promptEl.getAsString();
    int[] promptIds = encode(prompt);
    if (promptIds.length == 0) {
      throw new HttpError(400, "prompt is empty");
    }
    if (echo && promptIds.length > teacher.maxSequenceTokens()) {
      throw new HttpError(
          400,
          "echo scores at most " + teacher.maxSequenceTokens() + " prompt tokens (the context)");
    }
    int k = Math.max(logprobs, 0);
    List<TokenLogprob> scored = echo && logprobs >= 0 ? local.score(promptIds, k) : List.of();
    // One generator for the n choices: with a seed, the whole response is reproducible.
    Random rng = new Random(seed);
    JsonArray choices = new JsonArray();
    int completionTokens = 0;
    for (int c = 0; c < n; c++) {
      List<TokenLogprob> gen =
          maxTokens == 0
              ? List.of()
              : local.generate(
                  promptIds,
                  maxTokens,
                  temperature,
                  k,
                  rng,
                  sofar -> stopIndex(decodeAll(sofar), stop) >= 0);
      // OpenAI semantics: the text ends before the first stop string, which is not returned.
      int cut = stopIndex(decodeAll(gen), stop);
      StringBuilder text = new StringBuilder();
      JsonArray tokens = new JsonArray();
      JsonArray tokenLogprobs = new JsonArray();
      JsonArray top = new JsonArray();
      JsonArray offsets = new JsonArray();
      if (echo) {
        for (int i = 0; i < promptIds.length; i++) {
          String s = teacher.decode(new int[] {promptIds[i]});
          offsets.add(text.length());
          text.append(s);
          tokens.add(s);
          if (i == 0 || scored.isEmpty()) {
            tokenLogprobs.add(JsonNull.INSTANCE);
            top.add(JsonNull.INSTANCE);
          } else {
            TokenLogprob t = scored.get(i - 1);
            tokenLogprobs.add(t.logprob());
            top.add(topMap(t));
          }
        }
      }
      int generatedChars = 0;
      for (TokenLogprob t : gen) {
        String s = teacher.decode(new int[] {t.id()});
        if (cut >= 0 && generatedChars + s.length() > cut) {
          // A token that reaches into the stop string keeps only its part before it.
          String head = s.substring(0, cut - generatedChars);
          if (!head.isEmpty()) {
            offsets.add(text.length());
            text.append(head);
            tokens.add(head);
            tokenLogprobs.add(t.logprob());
            top.add(topMap(t));
            completionTokens++;
          }
          break;
        }
        offsets.add(text.length());
        text.append(s);
        tokens.add(s);
        tokenLogprobs.add(t.logprob());
        top.add(topMap(t));
        generatedChars += s.length();
        completionTokens++;
      }
      JsonObject choice = new JsonObject();
      choice.addProperty("text", text.toString());
      choice.addProperty("index", c);
      if (logprobs >= 0) {
        JsonObject lp = new JsonObject();
        lp.add("tokens", tokens);
        lp.add("token_logprobs", tokenLogprobs);
        lp.add("top_logprobs", top);
        lp.add("text_offset", offsets);
        choice.add("logprobs", lp);
      } else {
        choice.add("logprobs", JsonNull.INSTANCE);
      }
      choice.addProperty("finish_reason", cut >= 0 ? "stop" : "length");
      choices.add(choice);
    }
    JsonObject out = new JsonObject();
    out.addProperty("id", "cmpl-" + UUID.randomUUID());
    out.addProperty("object", "text_completion");
    out.addProperty("created", System.currentTimeMillis() / 1000);
    out.addProperty("model", teacher.provenance().getTeacherId());
    out.add("choices", choices);
    JsonObject usage = new JsonObject();
    usage.addProperty("prompt_tokens", promptIds.length);
    usage.addProperty("completion_tokens", completionTokens);
    usage.addProperty("total_tokens", promptIds.length + completionTokens);
    out.add("usage", usage);
    metrics.batch(n, promptIds.length + completionTokens, completionTokens + scored.size(), 0);
    return out;
  }

  /** The {@code stop} field: absent, a string, or up to 4 strings (as OpenAI allows). */
  private static List<String> stopStrings(JsonElement e) throws HttpError {
    if (e == null || e.isJsonNull()) {
      return List.of();
    }
    List<String> out = new ArrayList<>();
    if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString()) {
      out.add(e.getAsString());
    } else if (e.isJsonArray() && e.getAsJsonArray().size() <= 4) {
      for (JsonElement x : e.getAsJsonArray()) {
        if (!x.isJsonPrimitive() || !x.getAsJsonPrimitive().isString()) {
          throw new HttpError(400, "stop must be a string or an array of up to 4 strings");
        }
        out.add(x.getAsString());
      }
    } else {
      throw new HttpError(400, "stop must be a string or an array of up to 4 strings");
    }
    for (String s : out) {
      if (s.isEmpty()) {
        throw new HttpError(400, "stop strings must not be empty");
      }
    }
    return out;
  }

  /** Where the first stop string starts in {@code text}, or -1. */
  private static int stopIndex(String text, List<String> stop) {
    int best = -1;
    for (String s : stop) {
      int i = text.indexOf(s);
      if (i >= 0 && (best < 0 || i < best)) {
        best = i;
      }
    }
    return best;
  }

  private String decodeAll(List<TokenLogprob> gen) {
    int[] ids = new int[gen.size()];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = gen.get(i).id();
    }
    return teacher.decode(ids);
  }

  private JsonObject topMap(TokenLogprob t) {
    JsonObject m = new JsonObject();
    for (int j = 0; j < t.topIds().length; j++) {
      m.add(teacher.decode(new int[] {t.topIds()[j]}), new JsonPrimitive(t.topLogprobs()[j]));
    }
    return m;
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
