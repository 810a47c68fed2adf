package dev.distill.teacher.http;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.distill.teacher.http.Generations.Params;
import dev.distill.teacher.inference.Teacher;

/**
 * A valid {@code POST /v1/completions} request.
 *
 * @param prompt the one prompt
 * @param promptIds its token ids
 * @param params n, max_tokens, temperature, stop strings, seed
 * @param logprobs top-N log-probabilities per token, -1 for none (at most the server's maxK and the
 *     vocabulary)
 * @param echo the prompt is returned (and scored, with logprobs) before the completion
 * @param stream server-sent events instead of one answer
 * @param usageChunk a last streamed chunk carries the usage ({@code stream_options.include_usage})
 */
record CompletionsRequest(
    String prompt,
    int[] promptIds,
    Params params,
    int logprobs,
    boolean echo,
    boolean stream,
    boolean usageChunk) {

  /** Validates the request; each bad field is a 400 naming it. */
  static CompletionsRequest parse(
      JsonObject req, Generations gens, Teacher teacher, ServerConfig config) throws ApiError {
    JsonElement promptEl = req.get("prompt");
    if (promptEl == null
        || !promptEl.isJsonPrimitive()
        || !promptEl.getAsJsonPrimitive().isString()) {
      throw new ApiError(400, "prompt must be a string (one prompt per request)");
    }
    Params p = gens.params(req, "max_tokens", 16);
    int vocab = teacher.provenance().getVocabSize();
    int logprobs = Generations.intField(req, "logprobs", -1);
    if (logprobs > Math.min(config.maxK(), vocab)) {
      throw new ApiError(400, "logprobs must be at most " + Math.min(config.maxK(), vocab));
    }
    boolean echo = Generations.boolField(req, "echo");
    boolean stream = Generations.boolField(req, "stream");
    boolean usageChunk = stream && includeUsage(req);
    String prompt = promptEl.getAsString();
    int[] promptIds = gens.encode(prompt);
    if (echo && promptIds.length > teacher.maxSequenceTokens()) {
      throw new ApiError(
          400,
          "echo scores at most " + teacher.maxSequenceTokens() + " prompt tokens (the context)");
    }
    return new CompletionsRequest(prompt, promptIds, p, logprobs, echo, stream, usageChunk);
  }

  /** {@code stream_options: {"include_usage": true}} (both completions endpoints). */
  static boolean includeUsage(JsonObject req) throws ApiError {
    JsonElement o = req.get("stream_options");
    if (o == null || o.isJsonNull()) {
      return false;
    }
    if (!o.isJsonObject()) {
      throw new ApiError(400, "stream_options must be an object");
    }
    return Generations.boolField(o.getAsJsonObject(), "include_usage");
  }
}
