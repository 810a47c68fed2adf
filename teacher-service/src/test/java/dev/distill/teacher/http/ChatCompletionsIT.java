package dev.distill.teacher.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.distill.models.tokenizer.ChatTemplate;
import dev.distill.models.tokenizer.Tokenizer;
import dev.distill.teacher.HfFixtures;
import dev.distill.teacher.TestTeachers;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.LocalTeacher;
import dev.distill.teacher.inference.TeacherSources;
import dev.distill.teacher.inference.TokenStrings;
import dev.distill.teacher.service.TeacherMetrics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code /v1/chat/completions} and streaming, over real loopback HTTP, with the Qwen2-style Hugging
 * Face fixture of {@code models} as the teacher (real DJL model, byte-level BPE tokenizer with a
 * ChatML chat template). SSE answers are parsed as the openai SDKs parse them: {@code data:} lines,
 * JSON chunks, {@code [DONE]}.
 */
class ChatCompletionsIT {
  static final Path QWEN2 = HfFixtures.QWEN2;
  static LocalTeacher teacher;
  static TeacherHttpServer server;
  static final HttpClient http = HttpClient.newHttpClient();
  static final String MESSAGES =
      "[{\"role\":\"system\",\"content\":\"You are a poet.\"},"
          + "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Speak of the king\"}]}]";

  static ServerConfig config() {
    return ServerConfig.builder()
        .optMaxBodyBytes(1 << 16)
        .optMaxK(16)
        .optMaxTokens(32)
        .optThreads(4)
        .optMaxInFlight(16)
        .optMaxWait(Duration.ofMillis(20))
        .build();
  }

  @BeforeAll
  static void start() throws Exception {
    teacher = TeacherSources.open("hf:" + QWEN2, null, new LabelingConfig(8, 2f, 16));
    server = new TeacherHttpServer(config(), teacher, new TeacherMetrics());
    server.start();
  }

  @AfterAll
  static void stop() {
    server.close();
    teacher.close();
  }

  static HttpResponse<String> post(TeacherHttpServer s, String path, String body) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(s.baseUri() + path))
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static JsonObject ok(String path, String body) throws Exception {
    HttpResponse<String> r = post(server, path, body);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("application/json");
    return JsonParser.parseString(r.body()).getAsJsonObject();
  }

  /** The JSON chunks of a server-sent-events answer, checking the framing and the final [DONE]. */
  static List<JsonObject> events(String path, String body) throws Exception {
    HttpResponse<java.util.stream.Stream<String>> r =
        http.send(
            HttpRequest.newBuilder(URI.create(server.baseUri() + path))
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build(),
            HttpResponse.BodyHandlers.ofLines());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
    List<String> lines = r.body().collect(Collectors.toList());
    List<JsonObject> out = new ArrayList<>();
    boolean done = false;
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if (line.isEmpty()) {
        continue;
      }
      assertThat(done).as("nothing after [DONE]").isFalse();
      assertThat(line).startsWith("data: ");
      assertThat(lines.get(i + 1)).as("an event ends with a blank line").isEmpty();
      String data = line.substring("data: ".length());
      if (data.equals("[DONE]")) {
        done = true;
      } else {
        JsonObject o = JsonParser.parseString(data).getAsJsonObject();
        assertThat(o.has("error")).as(data).isFalse();
        out.add(o);
      }
    }
    assertThat(done).isTrue();
    return out;
  }

  @Test
  void chatCompletionRendersTheChatTemplateAndStreamsTheSameGreedyAnswer() throws Exception {
    String body =
        "{\"model\":\"qwen2\",\"messages\":"
            + MESSAGES
            + ",\"max_tokens\":12,\"temperature\":0,\"logprobs\":true,\"top_logprobs\":3";
    JsonObject r = ok("/v1/chat/completions", body + "}");
    assertThat(r.get("object").getAsString()).isEqualTo("chat.completion");
    JsonObject choice = r.getAsJsonArray("choices").get(0).getAsJsonObject();
    assertThat(choice.getAsJsonObject("message").get("role").getAsString()).isEqualTo("assistant");
    String content = choice.getAsJsonObject("message").get("content").getAsString();
    String finish = choice.get("finish_reason").getAsString();
    assertThat(finish).isIn("stop", "length");

    // The prompt is the tokenizer's ChatML template with the generation prompt.
    Tokenizer tok = teacher.tokenizer();
    String rendered =
        ChatTemplate.of(tok)
            .render(
                List.of(
                    new ChatTemplate.Message("system", "You are a poet."),
                    new ChatTemplate.Message("user", "Speak of the king")),
                true);
    assertThat(rendered).endsWith("<|im_start|>assistant\n");
    int[] prompt = tok.encode(rendered);
    JsonObject usage = r.getAsJsonObject("usage");
    assertThat(usage.get("prompt_tokens").getAsInt()).isEqualTo(prompt.length);

    // Greedy from the model itself; the answer's tokens map back to ids the tokenizer decodes.
    List<Integer> greedy = new ArrayList<>();
    teacher
        .generate(prompt, 12, 0f, 1, new java.util.Random(0), s -> false)
        .forEach(t -> greedy.add(t.id()));
    greedy.removeIf(teacher.endTokenIds()::contains);
    assertThat(content).isEqualTo(tok.decode(greedy.stream().mapToInt(i -> i).toArray()));
    JsonArray lp = choice.getAsJsonObject("logprobs").getAsJsonArray("content");
    assertThat(lp).hasSize(usage.get("completion_tokens").getAsInt()).hasSize(greedy.size());
    TokenStrings strings = new TokenStrings(tok);
    for (int i = 0; i < lp.size(); i++) {
      JsonObject e = lp.get(i).getAsJsonObject();
      assertThat(strings.id(e.get("token").getAsString())).isEqualTo(greedy.get(i)).isLessThan(660);
      JsonArray top = e.getAsJsonArray("top_logprobs");
      assertThat(top).hasSize(3);
      assertThat(e.get("logprob").getAsDouble())
          .isCloseTo(top.get(0).getAsJsonObject().get("logprob").getAsDouble(), within(1e-6));
      assertThat(e.getAsJsonArray("bytes")).isNotEmpty();
    }

    List<JsonObject> chunks =
        events(
            "/v1/chat/completions",
            body + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
    StringBuilder streamed = new StringBuilder();
    String streamedFinish = null;
    int streamedLogprobs = 0;
    JsonObject streamedUsage = null;
    for (JsonObject c : chunks) {
      assertThat(c.get("object").getAsString()).isEqualTo("chat.completion.chunk");
      JsonArray cs = c.getAsJsonArray("choices");
      if (cs.isEmpty()) {
        streamedUsage = c.getAsJsonObject("usage");
        continue;
      }
      JsonObject ch = cs.get(0).getAsJsonObject();
      JsonObject delta = ch.getAsJsonObject("delta");
      if (delta.has("content")) {
        streamed.append(delta.get("content").getAsString());
      }
      if (!ch.get("finish_reason").isJsonNull()) {
        streamedFinish = ch.get("finish_reason").getAsString();
      }
      if (!ch.get("logprobs").isJsonNull()) {
        streamedLogprobs += ch.getAsJsonObject("logprobs").getAsJsonArray("content").size();
      }
    }
    assertThat(
            chunks
                .get(0)
                .getAsJsonArray("choices")
                .get(0)
                .getAsJsonObject()
                .getAsJsonObject("delta")
                .get("role")
                .getAsString())
        .isEqualTo("assistant");
    assertThat(streamed.toString()).isEqualTo(content);
    assertThat(streamedFinish).isEqualTo(finish);
    assertThat(streamedLogprobs).isEqualTo(lp.size());
    assertThat(streamedUsage).isEqualTo(usage);
  }

  @Test
  void completionsOfAHuggingFaceTeacherStreamTheSameTextAndStopAtAStopString() throws Exception {
    String base = "{\"prompt\":\"the king is\",\"max_tokens\":10,\"temperature\":0,\"logprobs\":2";
    JsonObject whole = ok("/v1/completions", base + "}");
    String text =
        whole.getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString();
    assertThat(text).isNotEmpty();
    assertThat(streamedText(base + ",\"stream\":true}")).isEqualTo(text);

    // A stop string inside the greedy text: both end before it.
    int at = Math.min(3, text.length() - 1);
    String stop = text.substring(at, Math.min(at + 2, text.length()));
    String cutBody = base + ",\"stop\":" + new com.google.gson.JsonPrimitive(stop);
    JsonObject cut = ok("/v1/completions", cutBody + "}");
    JsonObject c0 = cut.getAsJsonArray("choices").get(0).getAsJsonObject();
    String expected = text.substring(0, text.indexOf(stop));
    assertThat(c0.get("text").getAsString()).isEqualTo(expected);
    assertThat(c0.get("finish_reason").getAsString()).isEqualTo("stop");
    assertThat(streamedText(cutBody + ",\"stream\":true}")).isEqualTo(expected);
  }

  private static String streamedText(String body) throws Exception {
    StringBuilder out = new StringBuilder();
    for (JsonObject c : events("/v1/completions", body)) {
      assertThat(c.get("object").getAsString()).isEqualTo("text_completion");
      JsonElement t = c.getAsJsonArray("choices").get(0).getAsJsonObject().get("text");
      out.append(t.getAsString());
    }
    return out.toString();
  }

  @Test
  void aTeacherWithoutAChatTemplateAndBadMessagesGet400() throws Exception {
    try (LocalTeacher chars = TestTeachers.tiny(16, 4, 2f);
        TeacherHttpServer s = new TeacherHttpServer(config(), chars, new TeacherMetrics())) {
      s.start();
      HttpResponse<String> r =
          post(
              s,
              "/v1/chat/completions",
              "{\"messages\":[{\"role\":\"user\",\"content\":\"abc\"}]}");
      assertThat(r.statusCode()).isEqualTo(400);
      assertThat(r.body()).contains("no chat template").contains("/v1/completions");
    }
    for (String bad :
        new String[] {
          "{\"messages\":[]}",
          "{\"messages\":[{\"role\":\"user\"}]}",
          "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{}]}",
          "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_logprobs\":3}",
          "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":33}"
        }) {
      assertThat(post(server, "/v1/chat/completions", bad).statusCode()).as(bad).isEqualTo(400);
    }
  }
}
