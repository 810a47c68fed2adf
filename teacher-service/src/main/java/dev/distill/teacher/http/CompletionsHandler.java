package dev.distill.teacher.http;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import com.sun.net.httpserver.HttpExchange;
import dev.distill.teacher.http.Generations.Choice;
import dev.distill.teacher.http.Generations.Params;
import dev.distill.teacher.http.Generations.Token;
import dev.distill.teacher.inference.Teacher;
import dev.distill.teacher.inference.TextGeneration.TokenLogprob;
import dev.distill.teacher.service.TeacherMetrics;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import java.util.UUID;

/**
 * {@code POST /v1/completions}, OpenAI's legacy completions: {@code prompt} (one string), {@code
 * max_tokens}, {@code temperature} (0 = greedy), {@code logprobs} (top-N, for echoed and generated
 * tokens), {@code echo}, {@code seed}, {@code n}, {@code stop}, and {@code stream} (server-sent
 * events, each chunk's {@code choices[0].text} a piece of the text; {@code stream_options:
 * {"include_usage": true}} adds a last chunk with the usage). Served by any teacher with {@link
 * Teacher#textGeneration()}. Token strings are {@link
 * dev.distill.teacher.inference.TokenStrings#text(int)}.
 */
final class CompletionsHandler implements JsonEndpoint {
  // null members are written ("finish_reason": null), as the OpenAI API writes them
  private static final Gson GSON =
      new com.google.gson.GsonBuilder().serializeNulls().disableHtmlEscaping().create();

  private final Teacher teacher;
  private final Generations gens; // null: the teacher does not generate
  private final ServerConfig config;
  private final TeacherMetrics metrics;

  CompletionsHandler(Teacher teacher, ServerConfig config, TeacherMetrics metrics) {
    this.teacher = teacher;
    this.gens = teacher.textGeneration().map(g -> new Generations(g, config)).orElse(null);
    this.config = config;
    this.metrics = metrics;
  }

  @Override
  public int handle(HttpExchange ex, JsonObject req) throws IOException, ApiError {
    if (gens == null) {
      throw new ApiError(404, "completions are served for an in-process teacher only");
    }
    CompletionsRequest r = CompletionsRequest.parse(req, gens, teacher, config);
    Params p = r.params();
    int logprobs = r.logprobs();
    boolean echo = r.echo();
    String prompt = r.prompt();
    int[] promptIds = r.promptIds();
    int k = Math.max(logprobs, 0);
    List<TokenLogprob> scored = echo && logprobs >= 0 ? gens.gen.score(promptIds, k) : List.of();
    // One generator for the n choices: with a seed, the whole response is reproducible.
    Random rng = new Random(p.seed());
    String id = "cmpl-" + UUID.randomUUID();
    long created = System.currentTimeMillis() / 1000;
    String model = teacher.provenance().getTeacherId().toString();
    int completionTokens = 0;
    if (r.stream()) {
      try (Sse sse = Sse.start(ex)) {
        try {
          for (int c = 0; c < p.n(); c++) {
            int index = c;
            if (echo) {
              sse.event(
                  chunk(
                      id,
                      created,
                      model,
                      index,
                      prompt,
                      echoLogprobs(promptIds, scored, logprobs),
                      null));
            }
            Choice choice =
                gens.choice(
                    promptIds,
                    p,
                    k,
                    rng,
                    (text, tokens) ->
                        sse.event(
                            chunk(
                                id,
                                created,
                                model,
                                index,
                                text,
                                logprobs >= 0 ? logprobs(tokens, echo ? prompt.length() : 0) : null,
                                null)));
            completionTokens += choice.tokens().size();
            sse.event(chunk(id, created, model, index, "", null, choice.finishReason()));
          }
          if (r.usageChunk()) {
            JsonObject u = chunkBase(id, created, model);
            u.add("choices", new JsonArray());
            u.add("usage", usage(promptIds.length, completionTokens));
            sse.event(u);
          }
        } catch (RuntimeException e) {
          sse.error(500, "generation failed: " + e.getMessage());
        }
        sse.done();
      }
      metrics.batch(
          p.n(), promptIds.length + completionTokens, completionTokens + scored.size(), 0);
      return 200;
    }
    JsonArray choices = new JsonArray();
    for (int c = 0; c < p.n(); c++) {
      Choice choice = gens.choice(promptIds, p, k, rng, null);
      JsonObject lp = null;
      if (logprobs >= 0) {
        lp = echo ? echoLogprobs(promptIds, scored, logprobs) : emptyLogprobs();
        JsonObject gen = logprobs(choice.tokens(), echo ? prompt.length() : 0);
        for (String f : List.of("tokens", "token_logprobs", "top_logprobs", "text_offset")) {
          lp.getAsJsonArray(f).addAll(gen.getAsJsonArray(f));
        }
      }
      JsonObject o = new JsonObject();
      o.addProperty("text", (echo ? prompt : "") + choice.text());
      o.addProperty("index", c);
      o.add("logprobs", lp == null ? JsonNull.INSTANCE : lp);
      o.addProperty("finish_reason", choice.finishReason());
      choices.add(o);
      completionTokens += choice.tokens().size();
    }
    JsonObject out = chunkBase(id, created, model);
    out.add("choices", choices);
    out.add("usage", usage(promptIds.length, completionTokens));
    metrics.batch(p.n(), promptIds.length + completionTokens, completionTokens + scored.size(), 0);
    return sendJson(ex, out);
  }

  private JsonObject chunkBase(String id, long created, String model) {
    JsonObject o = new JsonObject();
    o.addProperty("id", id);
    o.addProperty("object", "text_completion");
    o.addProperty("created", created);
    o.addProperty("model", model);
    return o;
  }

  private JsonObject chunk(
      String id, long created, String model, int index, String text, JsonObject lp, String finish) {
    JsonObject c = new JsonObject();
    c.addProperty("index", index);
    c.addProperty("text", text);
    c.add("logprobs", lp == null ? JsonNull.INSTANCE : lp);
    c.add("finish_reason", finish == null ? JsonNull.INSTANCE : new JsonPrimitive(finish));
    JsonObject o = chunkBase(id, created, model);
    JsonArray a = new JsonArray();
    a.add(c);
    o.add("choices", a);
    return o;
  }

  private static JsonObject emptyLogprobs() {
    JsonObject lp = new JsonObject();
    for (String f : List.of("tokens", "token_logprobs", "top_logprobs", "text_offset")) {
      lp.add(f, new JsonArray());
    }
    return lp;
  }

  /** The prompt's tokens: the first without a log-probability (nothing precedes it). */
  private JsonObject echoLogprobs(int[] promptIds, List<TokenLogprob> scored, int logprobs) {
    if (logprobs < 0) {
      return null;
    }
    JsonObject lp = emptyLogprobs();
    int offset = 0;
    for (int i = 0; i < promptIds.length; i++) {
      String s = gens.strings.text(promptIds[i]);
      lp.getAsJsonArray("tokens").add(s);
      lp.getAsJsonArray("text_offset").add(offset);
      offset += gens.gen.tokenizer().decode(new int[] {promptIds[i]}).length();
      if (i == 0 || scored.isEmpty()) {
        lp.getAsJsonArray("token_logprobs").add(JsonNull.INSTANCE);
        lp.getAsJsonArray("top_logprobs").add(JsonNull.INSTANCE);
      } else {
        TokenLogprob t = scored.get(i - 1);
        lp.getAsJsonArray("token_logprobs").add(t.logprob());
        lp.getAsJsonArray("top_logprobs").add(topMap(t));
      }
    }
    return lp;
  }

  private JsonObject logprobs(List<Token> tokens, int offsetBase) {
    JsonObject lp = emptyLogprobs();
    for (Token t : tokens) {
      lp.getAsJsonArray("tokens").add(t.text());
      lp.getAsJsonArray("token_logprobs").add(t.logprob().logprob());
      lp.getAsJsonArray("top_logprobs").add(topMap(t.logprob()));
      lp.getAsJsonArray("text_offset").add(offsetBase + t.offset());
    }
    return lp;
  }

  private JsonObject topMap(TokenLogprob t) {
    JsonObject m = new JsonObject();
    for (int j = 0; j < t.topIds().length; j++) {
      m.add(gens.strings.text(t.topIds()[j]), new JsonPrimitive(t.topLogprobs()[j]));
    }
    return m;
  }

  static JsonObject usage(int prompt, int completion) {
    JsonObject usage = new JsonObject();
    usage.addProperty("prompt_tokens", prompt);
    usage.addProperty("completion_tokens", completion);
    usage.addProperty("total_tokens", prompt + completion);
    return usage;
  }

  /** An OpenAI answer: null members are written, as the OpenAI API writes them. */
  static int sendJson(HttpExchange ex, JsonObject body) throws IOException {
    return Responses.send(
        ex, 200, Responses.JSON, GSON.toJson(body).getBytes(StandardCharsets.UTF_8));
  }
}
