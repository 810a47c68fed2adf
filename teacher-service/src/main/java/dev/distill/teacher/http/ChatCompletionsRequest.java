package dev.distill.teacher.http;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.distill.models.tokenizer.ChatTemplate;
import dev.distill.teacher.http.Generations.Params;
import dev.distill.teacher.inference.Teacher;
import java.util.ArrayList;
import java.util.List;

/**
 * A valid {@code POST /v1/chat/completions} request, its messages already rendered through the
 * teacher tokenizer's chat template.
 *
 * @param prompt the rendered prompt ({@code add_generation_prompt=true})
 * @param promptIds its token ids
 * @param params n, max_tokens (or max_completion_tokens), temperature, stop strings, seed
 * @param logprobs log-probabilities of the generated tokens are returned
 * @param topLogprobs alternatives per token, 0 to min(server maxK, vocabulary); needs logprobs
 * @param stream server-sent events instead of one answer
 * @param usageChunk a last streamed chunk carries the usage ({@code stream_options.include_usage})
 */
record ChatCompletionsRequest(
    String prompt,
    int[] promptIds,
    Params params,
    boolean logprobs,
    int topLogprobs,
    boolean stream,
    boolean usageChunk) {

  /**
   * Validates the request and renders its messages; a bad field, a refused feature (tools,
   * functions, response formats) or a teacher without a chat template is a 400 saying which.
   */
  static ChatCompletionsRequest parse(
      JsonObject req, Generations gens, Teacher teacher, ServerConfig config) throws ApiError {
    for (String unsupported : List.of("tools", "functions", "response_format", "tool_choice")) {
      JsonElement e = req.get(unsupported);
      if (e != null && !e.isJsonNull()) {
        throw new ApiError(400, unsupported + " is not supported by this server");
      }
    }
    List<ChatTemplate.Message> messages = messages(req.get("messages"));
    ChatTemplate template;
    try {
      template = ChatTemplate.of(gens.gen.tokenizer());
    } catch (IllegalArgumentException e) {
      throw new ApiError(
          400,
          "teacher "
              + teacher.provenance().getTeacherId()
              + " has no chat template (its tokenizer "
              + gens.gen.tokenizer().id()
              + " has no chat_template in tokenizer_config.json); use /v1/completions with a"
              + " prompt");
    }
    String prompt;
    try {
      prompt = template.render(messages, true);
    } catch (IllegalArgumentException e) {
      throw new ApiError(400, e.getMessage());
    }
    String maxField = req.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    Params p = gens.params(req, maxField, config.maxTokens());
    boolean logprobs = Generations.boolField(req, "logprobs");
    int top = Generations.intField(req, "top_logprobs", 0);
    int vocab = teacher.provenance().getVocabSize();
    if (top < 0 || top > Math.min(config.maxK(), vocab)) {
      throw new ApiError(
          400, "top_logprobs must be in [0, " + Math.min(config.maxK(), vocab) + "]");
    }
    if (top > 0 && !logprobs) {
      throw new ApiError(400, "top_logprobs needs logprobs: true");
    }
    boolean stream = Generations.boolField(req, "stream");
    boolean usageChunk = stream && CompletionsRequest.includeUsage(req);
    return new ChatCompletionsRequest(
        prompt, gens.encode(prompt), p, logprobs, top, stream, usageChunk);
  }

  static List<ChatTemplate.Message> messages(JsonElement e) throws ApiError {
    if (e == null || !e.isJsonArray() || e.getAsJsonArray().isEmpty()) {
      throw new ApiError(400, "messages must be a non-empty array of {role, content}");
    }
    List<ChatTemplate.Message> out = new ArrayList<>();
    JsonArray a = e.getAsJsonArray();
    for (int i = 0; i < a.size(); i++) {
      if (!a.get(i).isJsonObject()) {
        throw new ApiError(400, "messages[" + i + "] must be an object");
      }
      JsonObject m = a.get(i).getAsJsonObject();
      JsonElement role = m.get("role");
      if (role == null || !role.isJsonPrimitive() || !role.getAsJsonPrimitive().isString()) {
        throw new ApiError(400, "messages[" + i + "].role must be a string");
      }
      out.add(new ChatTemplate.Message(role.getAsString(), content(m.get("content"), i)));
    }
    return out;
  }

  private static String content(JsonElement c, int i) throws ApiError {
    if (c != null && c.isJsonPrimitive() && c.getAsJsonPrimitive().isString()) {
      return c.getAsString();
    }
    if (c != null && c.isJsonArray()) {
      StringBuilder b = new StringBuilder();
      for (JsonElement part : c.getAsJsonArray()) {
        JsonObject o = part.isJsonObject() ? part.getAsJsonObject() : null;
        JsonElement type = o == null ? null : o.get("type");
        JsonElement text = o == null ? null : o.get("text");
        if (type == null
            || !"text".equals(type.isJsonPrimitive() ? type.getAsString() : null)
            || text == null
            || !text.isJsonPrimitive()) {
          throw new ApiError(
              400, "messages[" + i + "].content parts must be {\"type\": \"text\", \"text\": ...}");
        }
        b.append(text.getAsString());
      }
      return b.toString();
    }
    throw new ApiError(400, "messages[" + i + "].content must be a string or a list of text parts");
  }
}
