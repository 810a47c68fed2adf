package dev.distill.teacher.remote;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.distill.models.tokenizer.Tokenizer;
import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.avro.Rationale;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.teacher.inference.LabeledSequence;
import dev.distill.teacher.inference.RationaleConfig;
import dev.distill.teacher.inference.RetryPolicy;
import dev.distill.teacher.inference.Teacher;
import dev.distill.teacher.inference.TeacherException;
import dev.distill.teacher.inference.TeacherIdentity;
import dev.distill.teacher.inference.TokenStrings;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import org.apache.commons.codec.digest.DigestUtils;

/**
 * Soft labels from a remote OpenAI-compatible endpoint: one {@code POST /v1/completions} per
 * sequence with {@code echo: true, max_tokens: 0, logprobs: k}, which returns each prompt token's
 * top-k log-probabilities (vLLM's prompt scoring). Position i of our labels is the endpoint's
 * {@code top_logprobs[i + 1]}. Probabilities are re-tempered to T within the top k ({@link
 * Retemperature}) and the provenance says so.
 *
 * <p>At most {@code maxConcurrency} requests are in flight; each has connect and request timeouts
 * and is retried on timeouts, connection errors, 429 and 5xx with exponential backoff and jitter.
 * Other 4xx answers and responses that do not match our tokenizer are not retried.
 *
 * <p>{@link #softLabelsApi} makes a client of this service's own {@code POST /v1/soft-labels}
 * instead (token ids in, top-k + tail at the service's T out, no re-tempering), with the same
 * concurrency, timeouts and retries: the on-policy trainer's HTTP teacher. Every answer must be at
 * {@code temperature}, with {@code topK} ids, from a teacher whose tokenizer sha256 is ours.
 */
public final class RemoteTeacher implements Teacher {
  private final RemoteTeacherConfig config;
  private final Tokenizer tokenizer;
  private final TokenStrings tokenStrings;
  private final HttpClient http;
  private final ExecutorService pool;
  private final Provenance provenance;
  private final boolean softLabelsApi;

  /**
   * @param tokenizer the tokenizer of the endpoint's model (ours or a Hugging Face one): the ids of
   *     the soft labels; the endpoint's token strings map to its ids exactly ({@link TokenStrings})
   */
  public RemoteTeacher(RemoteTeacherConfig config, Tokenizer tokenizer) {
    this(config, tokenizer, false);
  }

  /**
   * A client of a distill teacher service's {@code POST /v1/soft-labels} at {@code
   * config.baseUrl()}: {@link #label} sends each sequence's token ids and reads the service's top-k
   * + tail labels back ({@code config.topK()} ids at {@code config.temperature()}, which the
   * service must label at; {@code remoteTemperature} is not used). {@code tokenizer} must be the
   * service teacher's (same sha256), checked on every answer.
   */
  public static RemoteTeacher softLabelsApi(RemoteTeacherConfig config, Tokenizer tokenizer) {
    return new RemoteTeacher(config, tokenizer, true);
  }

  private RemoteTeacher(RemoteTeacherConfig config, Tokenizer tokenizer, boolean softLabelsApi) {
    this.softLabelsApi = softLabelsApi;
    this.config = config;
    this.tokenizer = tokenizer;
    this.tokenStrings = new TokenStrings(tokenizer);
    this.pool =
        Executors.newFixedThreadPool(
            config.maxConcurrency(),
            r -> {
              Thread t = new Thread(r, "remote-teacher");
              t.setDaemon(true);
              return t;
            });
    this.http = HttpClient.newBuilder().connectTimeout(config.connectTimeout()).build();
    this.provenance =
        Provenance.newBuilder()
            .setTeacherId(config.model())
            // A remote teacher's weights are not ours to hash: identify it by endpoint and model.
            .setTeacherSha256(sha256("remote\n" + config.baseUrl() + "\n" + config.model()))
            .setTokenizerId(tokenizer.id())
            .setTokenizerSha256(tokenizer.sha256())
            .setVocabSize(tokenizer.vocabSize())
            .setTemperature(config.temperature())
            .setTopK(config.topK())
            .setCodec(SoftLabelCodec.NAME)
            .setCodecVersion(SoftLabelCodec.VERSION)
            .setSchemaVersion(TeacherIdentity.SCHEMA_VERSION)
            .setRetemperatured(config.temperature() != config.remoteTemperature())
            .build();
  }

  @Override
  public List<LabeledSequence> label(List<int[]> sequences) throws TeacherException {
    List<CompletableFuture<LabeledSequence>> futures = new ArrayList<>(sequences.size());
    for (int[] seq : sequences) {
      if (seq.length < 2 || seq.length > config.maxSequenceTokens()) {
        throw new TeacherException(
            "sequence of " + seq.length + " tokens outside [2, " + config.maxSequenceTokens() + "]",
            false);
      }
      // The pool has maxConcurrency threads, so at most that many requests are in flight.
      futures.add(
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return labelOne(seq);
                } catch (TeacherException e) {
                  throw new CompletionException(e);
                }
              },
              pool));
    }
    List<LabeledSequence> out = new ArrayList<>(sequences.size());
    for (CompletableFuture<LabeledSequence> f : futures) {
      out.add(join(f));
    }
    return out;
  }

  @Override
  public boolean samplesRationales() {
    return true;
  }

  /** One sampled completion: the template-applied prompt's ids followed by the kept tokens. */
  private record Sampled(int[] ids, String text, String answer, float meanLogprob) {}

  /**
   * Rationales from the endpoint: per prompt, one {@code POST /v1/completions} with {@code n},
   * {@code temperature}, {@code max_tokens} and {@code logprobs: 1} (the sampled tokens'
   * log-probabilities as the endpoint reports them, the model's own for vLLM and for this service).
   * Each completion is cut after the token where the answer pattern first matches, as the
   * in-process {@code RationaleSampler} stops there. Each rationale's soft labels come from scoring
   * its whole sequence ({@link #label}, re-tempered to T like any other sequence).
   */
  @Override
  public List<List<Rationale>> sampleRationales(
      List<String> prompts, RationaleConfig rc, Random rng) throws TeacherException {
    List<CompletableFuture<List<Sampled>>> futures = new ArrayList<>(prompts.size());
    for (String prompt : prompts) {
      int seed = rng.nextInt(Integer.MAX_VALUE);
      futures.add(
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return sampleOne(prompt, rc, seed);
                } catch (TeacherException e) {
                  throw new CompletionException(e);
                }
              },
              pool));
    }
    List<List<Sampled>> sampled = new ArrayList<>(prompts.size());
    List<int[]> sequences = new ArrayList<>();
    for (CompletableFuture<List<Sampled>> f : futures) {
      List<Sampled> one = join(f);
      sampled.add(one);
      one.forEach(x -> sequences.add(x.ids()));
    }
    List<LabeledSequence> labels = label(sequences);
    List<List<Rationale>> out = new ArrayList<>(prompts.size());
    int at = 0;
    for (List<Sampled> one : sampled) {
      List<Rationale> rs = new ArrayList<>(one.size());
      for (Sampled x : one) {
        List<Integer> ids = new ArrayList<>(x.ids().length);
        for (int t : x.ids()) {
          ids.add(t);
        }
        rs.add(
            Rationale.newBuilder()
                .setText(x.text())
                .setTokenIds(ids)
                .setAnswer(x.answer())
                .setMeanLogprob(x.meanLogprob())
                .setSoftLabels(ByteBuffer.wrap(SoftLabelCodec.encode(labels.get(at++).labels())))
                .build());
      }
      out.add(rs);
    }
    return out;
  }

  private static <T> T join(CompletableFuture<T> f) throws TeacherException {
    try {
      return f.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof TeacherException te) {
        throw te;
      }
      throw new TeacherException("remote teacher failed: " + e.getCause(), true, e.getCause());
    }
  }

  private List<Sampled> sampleOne(String prompt, RationaleConfig rc, int seed)
      throws TeacherException {
    String templated = String.format(rc.promptTemplate(), prompt);
    int[] start = tokenizer.encode(templated);
    // The whole rationale is scored in one window for its soft labels: it must fit the context.
    int room = Math.min(rc.maxTokens(), config.maxSequenceTokens() - start.length);
    if (start.length < 1 || room < 1) {
      throw new TeacherException(
          "prompt of "
              + start.length
              + " tokens leaves no room in a context of "
              + config.maxSequenceTokens(),
          false);
    }
    JsonObject body = new JsonObject();
    body.addProperty("model", config.model());
    body.addProperty("prompt", templated);
    body.addProperty("max_tokens", room);
    body.addProperty("n", rc.samples());
    body.addProperty("temperature", rc.temperature());
    body.addProperty("logprobs", 1);
    body.addProperty("seed", seed);
    String response = send(request(body));
    try {
      JsonArray choices =
          JsonParser.parseString(response).getAsJsonObject().getAsJsonArray("choices");
      if (choices.size() != rc.samples()) {
        throw new TeacherException(
            "asked for " + rc.samples() + " completions, got " + choices.size(), false);
      }
      List<Sampled> out = new ArrayList<>(choices.size());
      for (JsonElement c : choices) {
        JsonObject lp = c.getAsJsonObject().getAsJsonObject("logprobs");
        JsonArray tokens = lp.getAsJsonArray("tokens");
        JsonArray logprobs = lp.getAsJsonArray("token_logprobs");
        int[] ids = Arrays.copyOf(start, start.length + tokens.size());
        int kept = 0;
        double sum = 0;
        String answer = null;
        String text = "";
        for (int i = 0; i < tokens.size(); i++) {
          ids[start.length + kept++] = idOf(tokens.get(i).getAsString(), "completion token " + i);
          sum += logprobs.get(i).getAsDouble();
          // the text so far decoded from the ids: byte-level tokens may hold parts of characters
          text = tokenizer.decode(Arrays.copyOfRange(ids, start.length, start.length + kept));
          Matcher m = rc.answerPattern().matcher(text);
          if (m.find()) {
            answer = m.group(1);
            break;
          }
        }
        out.add(
            new Sampled(
                Arrays.copyOf(ids, start.length + kept),
                text,
                answer,
                kept == 0 ? 0f : (float) (sum / kept)));
      }
      return out;
    } catch (RuntimeException e) {
      throw new TeacherException("unexpected completions response: " + e.getMessage(), false, e);
    }
  }

  private HttpRequest request(JsonObject body) {
    return request("/v1/completions", body);
  }

  private HttpRequest request(String path, JsonObject body) {
    HttpRequest.Builder req =
        HttpRequest.newBuilder(config.baseUrl().resolve(path))
            .timeout(config.requestTimeout())
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body.toString()));
    if (config.apiKey() != null) {
      req.header("Authorization", "Bearer " + config.apiKey());
    }
    return req.build();
  }

  private LabeledSequence labelOne(int[] seq) throws TeacherException {
    if (softLabelsApi) {
      return softLabelsOne(seq);
    }
    JsonObject body = new JsonObject();
    body.addProperty("model", config.model());
    body.addProperty("prompt", tokenizer.decode(seq));
    body.addProperty("max_tokens", 0);
    body.addProperty("echo", true);
    body.addProperty("logprobs", config.topK());
    body.addProperty("temperature", config.remoteTemperature());
    String response = send(request(body));
    try {
      return parse(seq, JsonParser.parseString(response).getAsJsonObject());
    } catch (RuntimeException e) {
      throw new TeacherException("unexpected completions response: " + e.getMessage(), false, e);
    }
  }

  /** One sequence through {@code POST /v1/soft-labels}: the service's labels as they are. */
  private LabeledSequence softLabelsOne(int[] seq) throws TeacherException {
    JsonObject body = new JsonObject();
    JsonArray toks = new JsonArray();
    for (int id : seq) {
      toks.add(id);
    }
    body.add("tokens", toks);
    body.addProperty("k", config.topK());
    String response = send(request("/v1/soft-labels", body));
    try {
      JsonObject r = JsonParser.parseString(response).getAsJsonObject();
      JsonObject prov = r.getAsJsonObject("provenance");
      String sha = prov.get("tokenizerSha256").getAsString();
      if (!sha.equals(tokenizer.sha256())) {
        throw new TeacherException(
            "student tokenizer "
                + tokenizer.id()
                + " (sha256 "
                + tokenizer.sha256()
                + ") differs from the teacher's "
                + prov.get("tokenizerId").getAsString()
                + " (sha256 "
                + sha
                + ") at "
                + config.baseUrl()
                + "; cross-tokenizer distillation is not enabled",
            false);
      }
      float t = r.get("temperature").getAsFloat();
      if (t != config.temperature()) {
        throw new TeacherException(
            "the teacher at "
                + config.baseUrl()
                + " labels at T="
                + t
                + ", this run needs T="
                + config.temperature(),
            false);
      }
      int positions = seq.length - 1;
      int k = config.topK();
      JsonArray ids = r.getAsJsonArray("top_ids");
      JsonArray probs = r.getAsJsonArray("top_probs");
      JsonArray tails = r.getAsJsonArray("tail_mass");
      if (r.get("k").getAsInt() != k || ids.size() != positions || tails.size() != positions) {
        throw new TeacherException(
            "soft-labels answer has k="
                + r.get("k")
                + " and "
                + ids.size()
                + " positions; asked k="
                + k
                + " for "
                + positions,
            false);
      }
      int[] outIds = new int[positions * k];
      float[] outProbs = new float[positions * k];
      float[] outTail = new float[positions];
      for (int p = 0; p < positions; p++) {
        JsonArray pi = ids.get(p).getAsJsonArray();
        JsonArray pp = probs.get(p).getAsJsonArray();
        for (int j = 0; j < k; j++) {
          outIds[p * k + j] = pi.get(j).getAsInt();
          outProbs[p * k + j] = pp.get(j).getAsFloat();
        }
        outTail[p] = tails.get(p).getAsFloat();
      }
      return LabeledSequence.of(
          seq,
          new SoftLabels(positions, k, outIds, outProbs, outTail),
          r.getAsJsonObject("stats").get("mean_entropy").getAsFloat());
    } catch (RuntimeException e) {
      throw new TeacherException("unexpected soft-labels response: " + e.getMessage(), false, e);
    }
  }

  private String send(HttpRequest request) throws TeacherException {
    try {
      return new RetryPolicy(config.retries(), config.backoff())
          .run(() -> sendOnce(request), () -> true);
    } catch (TeacherException e) {
      if (!e.retryable() || Thread.currentThread().isInterrupted()) {
        throw e;
      }
      throw new TeacherException(
          "remote teacher failed after " + (config.retries() + 1) + " attempts: " + e.getMessage(),
          true,
          e);
    }
  }

  /** One request: 200 is the body; 429, 5xx, a timeout or an I/O error are retryable. */
  private String sendOnce(HttpRequest request) throws TeacherException {
    try {
      HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
      int s = r.statusCode();
      if (s == 200) {
        return r.body();
      }
      boolean retryable = s == 429 || s >= 500;
      throw new TeacherException(
          retryable ? "HTTP " + s : "remote teacher answered HTTP " + s, retryable);
    } catch (HttpTimeoutException e) {
      throw new TeacherException("timeout", true, e);
    } catch (IOException e) {
      throw new TeacherException(e.toString(), true, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new TeacherException("interrupted", true, e);
    }
  }

  private LabeledSequence parse(int[] seq, JsonObject resp) throws TeacherException {
    JsonObject lp =
        resp.getAsJsonArray("choices").get(0).getAsJsonObject().getAsJsonObject("logprobs");
    JsonArray tokens = lp.getAsJsonArray("tokens");
    JsonArray top = lp.getAsJsonArray("top_logprobs");
    if (tokens.size() != seq.length || top.size() != seq.length) {
      throw new TeacherException(
          "remote tokenization differs: sent " + seq.length + " tokens, got " + tokens.size(),
          false);
    }
    for (int i = 0; i < seq.length; i++) {
      int echoed = idOf(tokens.get(i).getAsString(), "prompt token " + i);
      if (echoed != seq[i]) {
        throw new TeacherException(
            "remote tokenization differs at prompt token "
                + i
                + ": sent id "
                + seq[i]
                + ", the endpoint echoed id "
                + echoed,
            false);
      }
    }
    int positions = seq.length - 1;
    int k = config.topK();
    int[] ids = new int[positions * k];
    float[] probs = new float[positions * k];
    float[] tail = new float[positions];
    double entropy = 0;
    for (int p = 0; p < positions; p++) {
      JsonElement e = top.get(p + 1);
      if (e == null || e.isJsonNull()) {
        throw new TeacherException("no top_logprobs at position " + (p + 1), false);
      }
      List<Map.Entry<String, JsonElement>> entries =
          new ArrayList<>(e.getAsJsonObject().entrySet());
      entries.sort(
          (a, b) -> Double.compare(b.getValue().getAsDouble(), a.getValue().getAsDouble()));
      if (entries.size() < k) {
        throw new TeacherException(
            "position " + (p + 1) + " has " + entries.size() + " top logprobs, asked " + k, false);
      }
      float[] row = new float[k];
      for (int j = 0; j < k; j++) {
        ids[p * k + j] = idOf(entries.get(j).getKey(), "top_logprobs[" + (p + 1) + "] entry " + j);
        row[j] = (float) Math.exp(entries.get(j).getValue().getAsDouble());
      }
      tail[p] = Retemperature.apply(row, config.remoteTemperature(), config.temperature());
      for (int j = 0; j < k; j++) {
        probs[p * k + j] = row[j];
        entropy -= row[j] > 0 ? row[j] * Math.log(row[j]) : 0;
      }
      // The tail as one bucket: a lower bound of the full distribution's entropy.
      entropy -= tail[p] > 0 ? tail[p] * Math.log(tail[p]) : 0;
    }
    return LabeledSequence.of(
        seq, new SoftLabels(positions, k, ids, probs, tail), (float) (entropy / positions));
  }

  /**
   * The id of an endpoint's token string, exactly ({@link TokenStrings}); a string that maps to no
   * id (or to two) is a rejection naming it and where it was, never a guess.
   */
  private int idOf(String token, String where) throws TeacherException {
    try {
      return tokenStrings.id(token);
    } catch (IllegalArgumentException e) {
      throw new TeacherException("remote " + where + ": " + e.getMessage(), false, e);
    }
  }

  @Override
  public int maxSequenceTokens() {
    return config.maxSequenceTokens();
  }

  @Override
  public int[] encode(String text) {
    return tokenizer.encode(text);
  }

  @Override
  public String decode(int[] ids) {
    return tokenizer.decode(ids);
  }

  @Override
  public Provenance provenance() {
    return Provenance.newBuilder(provenance).build();
  }

  @Override
  public void close() {
    pool.shutdownNow();
  }

  private static String sha256(String s) {
    return DigestUtils.sha256Hex(s); // of its UTF-8 bytes
  }
}
