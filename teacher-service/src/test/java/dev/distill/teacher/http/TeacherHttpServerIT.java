package dev.distill.teacher.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.teacher.inference.LabeledSequence;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.LocalTeacher;
import dev.distill.teacher.inference.SoftLabeler;
import dev.distill.teacher.service.TeacherMetrics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The HTTP API over real loopback HTTP with a real DJL GPT behind it (one server per class). */
class TeacherHttpServerIT {
  static final String TOKEN = "it-token-abcdefghijklmnop";
  static final float T = 2f;
  static final int K = 4;
  static LocalTeacher teacher;
  static TeacherHttpServer server;
  static final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    CharTokenizer tok = CharTokenizer.fromCorpus("abcdefghijklmnopqrstuvwxyz ,.");
    LanguageModel lm =
        LanguageModel.create(new GptConfig(tok.vocabSize(), 32, 2, 2, 32, 0f), tok, 7);
    teacher = new LocalTeacher("it-gpt", lm, new LabelingConfig(K, T, 16));
    ServerConfig c = TestServers.config(TOKEN);
    server = new TeacherHttpServer(c, teacher, new TeacherMetrics());
    server.start();
  }

  @AfterAll
  static void stop() {
    server.close();
    teacher.close();
  }

  static JsonObject post(String path, String body) throws Exception {
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create(server.baseUri() + path))
                .header("Authorization", "Bearer " + TOKEN)
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return JsonParser.parseString(r.body()).getAsJsonObject();
  }

  @Test
  void softLabelsOverHttpEqualTheExactLabelsOfTheModel() throws Exception {
    String text = "the quick brown fox, jumps.";
    JsonObject r = post("/v1/soft-labels", "{\"text\":\"" + text + "\"}");
    int[] tokens = teacher.encode(text);
    LabeledSequence direct =
        new SoftLabeler(teacher.model(), new LabelingConfig(K, T, 1)).label(List.of(tokens)).get(0);
    SoftLabels l = direct.labels();
    JsonArray ids = r.getAsJsonArray("top_ids");
    JsonArray probs = r.getAsJsonArray("top_probs");
    assertThat(r.get("positions").getAsInt()).isEqualTo(tokens.length - 1);
    for (int p = 0; p < l.positions(); p++) {
      for (int j = 0; j < K; j++) {
        assertThat(ids.get(p).getAsJsonArray().get(j).getAsInt()).isEqualTo(l.id(p, j));
        assertThat(probs.get(p).getAsJsonArray().get(j).getAsFloat())
            .isCloseTo(l.prob(p, j), within(1e-6f));
      }
      assertThat(r.getAsJsonArray("tail_mass").get(p).getAsFloat())
          .isCloseTo(l.tail(p), within(1e-6f));
    }
    assertThat(r.getAsJsonObject("provenance").get("teacherSha256").getAsString())
        .isEqualTo(teacher.model().parametersSha256());
    assertThat(r.getAsJsonObject("stats").get("mean_entropy").getAsFloat())
        .isCloseTo(direct.meanEntropy(), within(1e-5f));
  }

  @Test
  void concurrentRequestsAreBatchedAndEachGetsItsOwnLabels() throws Exception {
    List<String> texts = new ArrayList<>();
    for (int i = 0; i < 24; i++) {
      texts.add("abc def ghi".substring(0, 4 + i % 7) + " " + (char) ('a' + i % 26));
    }
    List<CompletableFuture<JsonObject>> futures = new ArrayList<>();
    for (String t : texts) {
      futures.add(
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return post("/v1/soft-labels", "{\"text\":\"" + t + "\",\"k\":2}");
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
              }));
    }
    SoftLabeler alone = new SoftLabeler(teacher.model(), new LabelingConfig(K, T, 1));
    for (int i = 0; i < texts.size(); i++) {
      JsonObject r = futures.get(i).get();
      SoftLabels l = alone.label(List.of(teacher.encode(texts.get(i)))).get(0).labels();
      JsonArray ids = r.getAsJsonArray("top_ids");
      assertThat(ids.size()).isEqualTo(l.positions());
      for (int p = 0; p < l.positions(); p++) {
        assertThat(ids.get(p).getAsJsonArray().get(0).getAsInt()).isEqualTo(l.id(p, 0));
        assertThat(ids.get(p).getAsJsonArray().get(1).getAsInt()).isEqualTo(l.id(p, 1));
      }
    }
    String metrics =
        http.send(
                HttpRequest.newBuilder(URI.create(server.baseUri() + "/metrics"))
                    .header("Authorization", "Bearer " + TOKEN)
                    .build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
    // Fewer forward batches than requests: the dynamic batcher grouped concurrent requests.
    double batches = metricValue(metrics, "distill_teacher_batch_sequences_count");
    double sequences = metricValue(metrics, "distill_teacher_batch_sequences_sum");
    assertThat(sequences).isGreaterThanOrEqualTo(texts.size());
    assertThat(batches).isLessThan(sequences);
    assertThat(metrics)
        .contains("distill_teacher_queue_depth")
        .contains("distill_teacher_labelled_tokens_total");
    assertThat(metrics).doesNotContain(TOKEN);
  }

  static double metricValue(String scrape, String name) {
    for (String line : scrape.split("\n")) {
      if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
        return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    throw new AssertionError(name + " not in metrics");
  }

  @Test
  void completionsEchoReturnsTheModelsTopLogprobsAtTemperatureOne() throws Exception {
    String prompt = "hello world.";
    JsonObject r =
        post(
            "/v1/completions",
            "{\"model\":\"it-gpt\",\"prompt\":\""
                + prompt
                + "\",\"max_tokens\":0,\"echo\":true,\"logprobs\":5}");
    JsonObject lp =
        r.getAsJsonArray("choices").get(0).getAsJsonObject().getAsJsonObject("logprobs");
    JsonArray top = lp.getAsJsonArray("top_logprobs");
    int[] tokens = teacher.encode(prompt);
    assertThat(top.size()).isEqualTo(tokens.length);
    assertThat(top.get(0).isJsonNull()).isTrue();
    SoftLabels t1 =
        new SoftLabeler(teacher.model(), new LabelingConfig(5, 1f, 1))
            .label(List.of(tokens))
            .get(0)
            .labels();
    for (int i = 1; i < tokens.length; i++) {
      JsonObject m = top.get(i).getAsJsonObject();
      assertThat(m.size()).isEqualTo(5);
      for (int j = 0; j < 5; j++) {
        String tok = teacher.decode(new int[] {t1.id(i - 1, j)});
        assertThat(Math.exp(m.get(tok).getAsDouble())).isCloseTo(t1.prob(i - 1, j), within(1e-5));
      }
      double chosen = lp.getAsJsonArray("token_logprobs").get(i).getAsDouble();
      assertThat(chosen).isLessThanOrEqualTo(0);
    }
    assertThat(r.getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString())
        .isEqualTo(prompt);
  }

  @Test
  void greedyCompletionIsDeterministicAndMaxTokensOverTheLimitIs400() throws Exception {
    String body = "{\"prompt\":\"abc\",\"max_tokens\":6,\"temperature\":0,\"logprobs\":2}";
    JsonObject a = post("/v1/completions", body);
    JsonObject b = post("/v1/completions", body);
    String textA = a.getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString();
    assertThat(textA).hasSize(6);
    assertThat(b.getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString())
        .isEqualTo(textA);
    JsonObject lp =
        a.getAsJsonArray("choices").get(0).getAsJsonObject().getAsJsonObject("logprobs");
    // Greedy: every chosen token is the top-1 of its position.
    for (int i = 0; i < 6; i++) {
      JsonObject top = lp.getAsJsonArray("top_logprobs").get(i).getAsJsonObject();
      double best =
          top.entrySet().stream().mapToDouble(e -> e.getValue().getAsDouble()).max().orElseThrow();
      assertThat(lp.getAsJsonArray("token_logprobs").get(i).getAsDouble())
          .isCloseTo(best, within(1e-6));
    }
    assertThat(a.getAsJsonObject("usage").get("completion_tokens").getAsInt()).isEqualTo(6);
    HttpResponse<String> over =
        http.send(
            HttpRequest.newBuilder(URI.create(server.baseUri() + "/v1/completions"))
                .header("Authorization", "Bearer " + TOKEN)
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"abc\",\"max_tokens\":33}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(over.statusCode()).isEqualTo(400);
    assertThat(over.body()).contains("max_tokens");
  }

  /** The model's log-probabilities (T = 1) of the next token after each prefix of {@code ids}. */
  static float[] logSoftmax(int[] ids) {
    try (NDManager m = NDManager.newBaseManager()) {
      return teacher.model().logits(m, new int[][] {ids}).logSoftmax(-1).toFloatArray();
    }
  }

  @Test
  void sampledCompletionsReturnNChoicesCutAtTheStopStringWithTheModelsLogprobs() throws Exception {
    String body =
        "{\"prompt\":\"the cat\",\"n\":5,\"max_tokens\":8,\"temperature\":1.0,"
            + "\"logprobs\":1,\"seed\":42,\"stop\":[\" \",\".\"]}";
    JsonObject a = post("/v1/completions", body);
    assertThat(post("/v1/completions", body).get("choices")).isEqualTo(a.get("choices"));
    JsonArray choices = a.getAsJsonArray("choices");
    assertThat(choices).hasSize(5);
    int vocab = teacher.model().config().vocabSize();
    int[] prompt = teacher.encode("the cat");
    int stopped = 0;
    int total = 0;
    for (int c = 0; c < 5; c++) {
      JsonObject choice = choices.get(c).getAsJsonObject();
      assertThat(choice.get("index").getAsInt()).isEqualTo(c);
      String text = choice.get("text").getAsString();
      assertThat(text).doesNotContain(" ", ".");
      String finish = choice.get("finish_reason").getAsString();
      // Stopped: the stop string was the next token and is not returned; else all 8 tokens.
      assertThat(finish).isEqualTo(text.length() < 8 ? "stop" : "length");
      stopped += finish.equals("stop") ? 1 : 0;
      total += text.length();
      JsonObject lp = choice.getAsJsonObject("logprobs");
      JsonArray tokens = lp.getAsJsonArray("tokens");
      assertThat(tokens).hasSize(text.length());
      int[] ids = teacher.encode("the cat" + text);
      float[] logp = logSoftmax(ids);
      for (int i = 0; i < tokens.size(); i++) {
        assertThat(tokens.get(i).getAsString()).isEqualTo(text.substring(i, i + 1));
        int at = prompt.length + i;
        assertThat(lp.getAsJsonArray("token_logprobs").get(i).getAsDouble())
            .isCloseTo(logp[(at - 1) * vocab + ids[at]], within(1e-4));
        assertThat(lp.getAsJsonArray("top_logprobs").get(i).getAsJsonObject().size()).isEqualTo(1);
      }
    }
    assertThat(a.getAsJsonObject("usage").get("completion_tokens").getAsInt()).isEqualTo(total);
    assertThat(stopped).as("some samples hit a stop string").isPositive();

    for (String bad :
        new String[] {
          "{\"prompt\":\"abc\",\"n\":65}",
          "{\"prompt\":\"abc\",\"n\":0}",
          "{\"prompt\":\"abc\",\"stop\":3}",
          "{\"prompt\":\"abc\",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}",
          "{\"prompt\":\"abc\",\"stop\":\"\"}"
        }) {
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(URI.create(server.baseUri() + "/v1/completions"))
                  .header("Authorization", "Bearer " + TOKEN)
                  .POST(HttpRequest.BodyPublishers.ofString(bad))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(bad).isEqualTo(400);
    }
  }
}
