package dev.distill.teacher.http;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import com.sun.net.httpserver.HttpExchange;
import dev.distill.models.tokenizer.ChatTemplate;
import dev.distill.teacher.http.Generations.Choice;
import dev.distill.teacher.http.Generations.Params;
import dev.distill.teacher.http.Generations.Token;
import dev.distill.teacher.inference.Teacher;
import dev.distill.teacher.inference.TextGeneration.TokenLogprob;
import dev.distill.teacher.service.TeacherMetrics;
import java.io.IOException;
import java.util.List;
import java.util.Random;
import java.util.UUID;

/**
 * {@code POST /v1/chat/completions}, OpenAI-compatible: {@code messages} ({@code role} and {@code
 * content}, a string or a list of {@code {"type": "text", "text": ...}} parts), {@code max_tokens}
 * (or {@code max_completion_tokens}), {@code temperature}, {@code n}, {@code stop}, {@code seed},
 * {@code logprobs} (true/false) with {@code top_logprobs} (0..the server's k limit), and {@code
 * stream} (server-sent events: {@code chat.completion.chunk}s whose {@code
 * choices[0].delta.content} are pieces of the answer, the first with {@code delta.role}, the last
 * with {@code finish_reason}).
 *
 * <p>The prompt is the teacher tokenizer's chat template ({@code tokenizer_config.json}'s {@code
 * chat_template}, rendered by {@link ChatTemplate} as {@code transformers}' {@code
 * apply_chat_template(messages, add_generation_prompt=True)} does), so an instruction-tuned teacher
 * gets prompts the way it was trained; a teacher whose tokenizer has no template gets a 400 that
 * says so. Tools, functions and response formats are refused (400), not ignored.
 */
final class ChatCompletionsHandler implements JsonEndpoint {
  private final Teacher teacher;
  private final Generations gens; // null: the teacher does not generate
  private final ServerConfig config;
  private final TeacherMetrics metrics;

  ChatCompletionsHandler(Teacher teacher, ServerConfig config, TeacherMetrics metrics) {
    this.teacher = teacher;
    this.gens = teacher.textGeneration().map(g -> new Generations(g, config)).orElse(null);
    this.config = config;
    this.metrics = metrics;
  }

  @Override
  public int handle(HttpExchange ex, JsonObject req) throws IOException, ApiError {
    if (gens == null) {
      throw new ApiError(404, "chat completions are served for an in-process teacher only");
    }
    ChatCompletionsRequest r = ChatCompletionsRequest.parse(req, gens, teacher, config);
    Params p = r.params();
    boolean logprobs = r.logprobs();
    int top = r.topLogprobs();
    int[] promptIds = r.promptIds();
    Random rng = new Random(p.seed());
    String id = "chatcmpl-" + UUID.randomUUID();
    long created = System.currentTimeMillis() / 1000;
    String model = teacher.provenance().getTeacherId().toString();
    int completionTokens = 0;
    if (r.stream()) {
      try (Sse sse = Sse.start(ex)) {
        try {
          for (int c = 0; c < p.n(); c++) {
            int index = c;
            JsonObject first = new JsonObject();
            first.addProperty("role", "assistant");
            first.addProperty("content", "");
            sse.event(chunk(id, created, model, index, first, null, null));
            Choice choice =
                gens.choice(
                    promptIds,
                    p,
                    top,
                    rng,
                    (text, tokens) -> {
                      JsonObject delta = new JsonObject();
                      delta.addProperty("content", text);
                      sse.event(
                          chunk(
                              id,
                              created,
                              model,
                              index,
                              delta,
                              logprobs ? logprobs(tokens) : null,
                              null));
                    });
            completionTokens += choice.tokens().size();
            sse.event(
                chunk(id, created, model, index, new JsonObject(), null, choice.finishReason()));
          }
          if (r.usageChunk()) {
            JsonObject u = base(id, created, model, "chat.completion.chunk");
            u.add("choices", new JsonArray());
            u.add("usage", CompletionsHandler.usage(promptIds.length, completionTokens));
            sse.event(u);
          }
        } catch (RuntimeException e) {
          sse.error(500, "generation failed: " + e.getMessage());
        }
        sse.done();
      }
      metrics.batch(p.n(), promptIds.length + completionTokens, completionTokens, 0);
      return 200;
    }
    JsonArray choices = new JsonArray();
    for (int c = 0; c < p.n(); c++) {
      Choice choice = gens.choice(promptIds, p, top, rng, null);
      JsonObject message = new JsonObject();
      message.addProperty("role", "assistant");
      message.addProperty("content", choice.text());
      JsonObject o = new JsonObject();
      o.addProperty("index", c);
      o.add("message", message);
      o.add("logprobs", logprobs ? logprobs(choice.tokens()) : JsonNull.INSTANCE);
      o.addProperty("finish_reason", choice.finishReason());
      choices.add(o);
      completionTokens += choice.tokens().size();
    }
    JsonObject out = base(id, created, model, "chat.completion");
    out.add("choices", choices);
    out.add("usage", CompletionsHandler.usage(promptIds.length, completionTokens));
    metrics.batch(p.n(), promptIds.length + completionTokens, completionTokens, 0);
    return CompletionsHandler.sendJson(ex, out);
  }

  /** The conversation; 400 naming the message and field that is wrong. */
  private static JsonObject base(String id, long created, String model, String object) {
    JsonObject o = new JsonObject();
    o.addProperty("id", id);
    o.addProperty("object", object);
    o.addProperty("created", created);
    o.addProperty("model", model);
    return o;
  }

  private static JsonObject chunk(
      String id,
      long created,
      String model,
      int index,
      JsonObject delta,
      JsonObject logprobs,
      String finish) {
    JsonObject c = new JsonObject();
    c.addProperty("index", index);
    c.add("delta", delta);
    c.add("logprobs", logprobs == null ? JsonNull.INSTANCE : logprobs);
    c.add("finish_reason", finish == null ? JsonNull.INSTANCE : new JsonPrimitive(finish));
    JsonObject o = base(id, created, model, "chat.completion.chunk");
    JsonArray a = new JsonArray();
    a.add(c);
    o.add("choices", a);
    return o;
  }

  /** OpenAI's {@code logprobs.content}: token, logprob, bytes and the top alternatives. */
  private JsonObject logprobs(List<Token> tokens) {
    JsonArray content = new JsonArray();
    for (Token t : tokens) {
      JsonObject o = entry(t.text(), t.logprob().id(), t.logprob().logprob());
      JsonArray alts = new JsonArray();
      TokenLogprob lp = t.logprob();
      for (int j = 0; j < lp.topIds().length; j++) {
        alts.add(entry(gens.strings.text(lp.topIds()[j]), lp.topIds()[j], lp.topLogprobs()[j]));
      }
      o.add("top_logprobs", alts);
      content.add(o);
    }
    JsonObject out = new JsonObject();
    out.add("content", content);
    return out;
  }

  private JsonObject entry(String text, int id, float logprob) {
    JsonObject o = new JsonObject();
    o.addProperty("token", text);
    o.addProperty("logprob", logprob);
    JsonArray bytes = new JsonArray();
    for (byte b : gens.strings.bytes(id)) {
      bytes.add(b & 0xff);
    }
    o.add("bytes", bytes);
    return o;
  }
}
