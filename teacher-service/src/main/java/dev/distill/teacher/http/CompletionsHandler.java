package dev.distill.teacher.http;

import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import dev.distill.teacher.http.CompletionsHandler.CompletionChoice;
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
 * {@code POST /v1/completions}, OpenAI's legacy completions: {@code prompt} (one string), {@code
 * max_tokens}, {@code temperature} (0 = greedy), {@code logprobs} (top-N, for echoed and generated
 * tokens), {@code echo}, {@code seed}, {@code n}, {@code stop}, and {@code stream} (server-sent
 * events, each chunk's {@code choices[0].text} a piece of the text; {@code stream_options:
 * {"include_usage": true}} adds a last chunk with the usage). Served by any teacher with {@link
 * Teacher#textGeneration()}. Token strings are {@link
 * dev.distill.teacher.inference.TokenStrings#text(int)}.
 */
final class CompletionsHandler extends GenerationHandler<CompletionChoice> {

  /**
   * A choice ({@code choices[i]}), whole or a streamed piece.
   *
   * @param text the prompt (with {@code echo}) and the generated text; a streamed piece's text
   * @param logprobs null without {@code logprobs}
   * @param finishReason {@code stop}, {@code length}, or null in a streamed piece
   */
  record CompletionChoice(String text, int index, Logprobs logprobs, String finishReason) {}

  /**
   * OpenAI's legacy {@code logprobs}: per token its string, log-probability (null for the prompt's
   * first token, which nothing precedes), top alternatives (string to log-probability) and
   * character offset in the text.
   */
  record Logprobs(
      List<String> tokens,
      List<Float> tokenLogprobs,
      List<Map<String, Float>> topLogprobs,
      List<Integer> textOffset) {
    static Logprobs empty() {
      return new Logprobs(
          new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
    }

    /** This followed by {@code more}. */
    Logprobs concat(Logprobs more) {
      Logprobs out = empty();
      for (Logprobs l : List.of(this, more)) {
        out.tokens.addAll(l.tokens);
        out.tokenLogprobs.addAll(l.tokenLogprobs);
        out.topLogprobs.addAll(l.topLogprobs);
        out.textOffset.addAll(l.textOffset);
      }
      return out;
    }
  }

  CompletionsHandler(Teacher teacher, ServerConfig config, TeacherMetrics metrics) {
    super(teacher, config, metrics, "completions", "cmpl-", "text_completion", "text_completion");
  }

  @Override
  int serve(HttpExchange ex, JsonObject req) throws IOException, ApiError {
    CompletionsRequest r = CompletionsRequest.parse(req, gens, teacher, config);
    int logprobs = r.logprobs();
    boolean echo = r.echo();
    String prompt = r.prompt();
    int[] promptIds = r.promptIds();
    int k = Math.max(logprobs, 0);
    List<TokenLogprob> scored = echo && logprobs >= 0 ? gens.gen.score(promptIds, k) : List.of();
    int offsetBase = echo ? prompt.length() : 0;
    Job job = new Job(r.params(), promptIds, k, r.stream(), r.usageChunk(), scored.size());
    return generate(
        ex,
        job,
        new Format<>() {
          @Override
          public CompletionChoice opening(int index) {
            return echo
                ? new CompletionChoice(
                    prompt, index, logprobs >= 0 ? echoLogprobs(promptIds, scored) : null, null)
                : null;
          }

          @Override
          public CompletionChoice delta(int index, String text, List<Token> tokens) {
            return new CompletionChoice(
                text, index, logprobs >= 0 ? logprobs(tokens, offsetBase) : null, null);
          }

          @Override
          public CompletionChoice closing(int index, String finishReason) {
            return new CompletionChoice("", index, null, finishReason);
          }

          @Override
          public CompletionChoice whole(int index, Choice choice) {
            Logprobs lp = null;
            if (logprobs >= 0) {
              lp =
                  (echo ? echoLogprobs(promptIds, scored) : Logprobs.empty())
                      .concat(logprobs(choice.tokens(), offsetBase));
            }
            return new CompletionChoice(
                (echo ? prompt : "") + choice.text(), index, lp, choice.finishReason());
          }
        });
  }

  /** The prompt's tokens: the first without a log-probability (nothing precedes it). */
  private Logprobs echoLogprobs(int[] promptIds, List<TokenLogprob> scored) {
    Logprobs lp = Logprobs.empty();
    int offset = 0;
    for (int i = 0; i < promptIds.length; i++) {
      lp.tokens().add(gens.strings.text(promptIds[i]));
      lp.textOffset().add(offset);
      offset += gens.gen.tokenizer().decode(new int[] {promptIds[i]}).length();
      if (i == 0 || scored.isEmpty()) {
        lp.tokenLogprobs().add(null);
        lp.topLogprobs().add(null);
      } else {
        TokenLogprob t = scored.get(i - 1);
        lp.tokenLogprobs().add(t.logprob());
        lp.topLogprobs().add(topMap(t));
      }
    }
    return lp;
  }

  private Logprobs logprobs(List<Token> tokens, int offsetBase) {
    Logprobs lp = Logprobs.empty();
    for (Token t : tokens) {
      lp.tokens().add(t.text());
      lp.tokenLogprobs().add(t.logprob().logprob());
      lp.topLogprobs().add(topMap(t.logprob()));
      lp.textOffset().add(offsetBase + t.offset());
    }
    return lp;
  }

  private Map<String, Float> topMap(TokenLogprob t) {
    Map<String, Float> m = new LinkedHashMap<>();
    for (int j = 0; j < t.topIds().length; j++) {
      m.put(gens.strings.text(t.topIds()[j]), t.topLogprobs()[j]);
    }
    return m;
  }
}
