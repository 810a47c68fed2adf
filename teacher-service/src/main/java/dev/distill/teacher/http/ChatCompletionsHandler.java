package dev.distill.teacher.http;

import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import dev.distill.models.tokenizer.ChatTemplate;
import dev.distill.teacher.http.ChatCompletionsHandler.ChatChoice;
import dev.distill.teacher.http.Generations.Choice;
import dev.distill.teacher.http.Generations.Token;
import dev.distill.teacher.inference.Teacher;
import dev.distill.teacher.inference.TextGeneration.TokenLogprob;
import dev.distill.teacher.service.TeacherMetrics;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
final class ChatCompletionsHandler extends GenerationHandler<ChatChoice> {

  /** A choice ({@code choices[i]}): whole with a {@code message}, or a streamed {@code delta}. */
  sealed interface ChatChoice permits Whole, Streamed {}

  /**
   * A whole choice.
   *
   * @param logprobs null without {@code logprobs}
   * @param finishReason {@code stop} or {@code length}
   */
  record Whole(int index, Message message, ChatLogprobs logprobs, String finishReason)
      implements ChatChoice {}

  /**
   * A streamed piece of a choice.
   *
   * @param delta {@code role} and empty {@code content} in the first, {@code content} in the next,
   *     empty in the last: a map, because OpenAI leaves out the members a delta does not carry,
   *     while every other null here is written
   * @param logprobs null without {@code logprobs}
   * @param finishReason null but in a choice's last chunk
   */
  record Streamed(int index, Map<String, String> delta, ChatLogprobs logprobs, String finishReason)
      implements ChatChoice {}

  /** The assistant's answer. */
  record Message(String role, String content) {}

  /** OpenAI's {@code logprobs}: {@code content}, one entry per token. */
  record ChatLogprobs(List<TokenEntry> content) {}

  /** A token: its string, log-probability, UTF-8 bytes and the top alternatives. */
  record TokenEntry(String token, float logprob, int[] bytes, List<TopEntry> topLogprobs) {}

  /** An alternative token: its string, log-probability and UTF-8 bytes. */
  record TopEntry(String token, float logprob, int[] bytes) {}

  ChatCompletionsHandler(Teacher teacher, ServerConfig config, TeacherMetrics metrics) {
    super(
        teacher,
        config,
        metrics,
        "chat completions",
        "chatcmpl-",
        "chat.completion",
        "chat.completion.chunk");
  }

  @Override
  int serve(HttpExchange ex, JsonObject req) throws IOException, ApiError {
    ChatCompletionsRequest r = ChatCompletionsRequest.parse(req, gens, teacher, config);
    boolean logprobs = r.logprobs();
    Job job = new Job(r.params(), r.promptIds(), r.topLogprobs(), r.stream(), r.usageChunk(), 0);
    return generate(
        ex,
        job,
        new Format<>() {
          @Override
          public ChatChoice opening(int index) {
            Map<String, String> first = new LinkedHashMap<>();
            first.put("role", "assistant");
            first.put("content", "");
            return new Streamed(index, first, null, null);
          }

          @Override
          public ChatChoice delta(int index, String text, List<Token> tokens) {
            return new Streamed(
                index, Map.of("content", text), logprobs ? logprobs(tokens) : null, null);
          }

          @Override
          public ChatChoice closing(int index, String finishReason) {
            return new Streamed(index, Map.of(), null, finishReason);
          }

          @Override
          public ChatChoice whole(int index, Choice choice) {
            return new Whole(
                index,
                new Message("assistant", choice.text()),
                logprobs ? logprobs(choice.tokens()) : null,
                choice.finishReason());
          }
        });
  }

  /** OpenAI's {@code logprobs.content}: token, logprob, bytes and the top alternatives. */
  private ChatLogprobs logprobs(List<Token> tokens) {
    List<TokenEntry> content = new ArrayList<>();
    for (Token t : tokens) {
      TokenLogprob lp = t.logprob();
      List<TopEntry> alts = new ArrayList<>();
      for (int j = 0; j < lp.topIds().length; j++) {
        int id = lp.topIds()[j];
        alts.add(new TopEntry(gens.strings.text(id), lp.topLogprobs()[j], bytes(id)));
      }
      content.add(new TokenEntry(t.text(), lp.logprob(), bytes(lp.id()), alts));
    }
    return new ChatLogprobs(content);
  }

  private int[] bytes(int id) {
    byte[] b = gens.strings.bytes(id);
    int[] out = new int[b.length];
    for (int i = 0; i < b.length; i++) {
      out[i] = b[i] & 0xff;
    }
    return out;
  }
}
