package dev.distill.teacher.http;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.distill.teacher.inference.TextGeneration;
import dev.distill.teacher.inference.TextGeneration.TokenLogprob;
import dev.distill.teacher.inference.TokenStrings;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * What {@code /v1/completions} and {@code /v1/chat/completions} share: the request fields of
 * sampling ({@code max_tokens}, {@code temperature}, {@code n}, {@code stop}, {@code seed}) and one
 * choice generated, whole or streamed.
 *
 * <p>A choice ends at {@code max_tokens} ({@code finish_reason} {@code length}), at an end-of-
 * sequence token ({@link TextGeneration#endTokenIds()}: {@code stop}; the token is not returned) or
 * before the first stop string ({@code stop}; OpenAI semantics: the text ends before it, a token
 * reaching into it keeps its part before it). Its text is decoded from all its ids at once, so
 * byte-level tokens holding parts of a character join into the character. Streamed, a delta is sent
 * as soon as its text is settled: text that could still become a stop string, or that ends in a
 * partial character (U+FFFD), waits for the next token.
 */
final class Generations {
  /** Most completions one request may ask for ({@code n}). */
  static final int MAX_CHOICES = 64;

  final TextGeneration gen;
  final TokenStrings strings;
  final ServerConfig config;

  Generations(TextGeneration gen, ServerConfig config) {
    this.gen = gen;
    this.strings = new TokenStrings(gen.tokenizer());
    this.config = config;
  }

  /** The sampling fields of a request. */
  record Params(int n, int maxTokens, float temperature, List<String> stop, long seed) {}

  Params params(JsonObject req, String maxTokensField, int defaultMaxTokens) throws ApiError {
    int n = intField(req, "n", 1);
    if (n < 1 || n > MAX_CHOICES) {
      throw new ApiError(400, "n must be in [1, " + MAX_CHOICES + "]");
    }
    List<String> stop = stopStrings(req.get("stop"));
    int maxTokens = intField(req, maxTokensField, defaultMaxTokens);
    if (maxTokens < 0 || maxTokens > config.maxTokens()) {
      throw new ApiError(400, maxTokensField + " must be in [0, " + config.maxTokens() + "]");
    }
    JsonElement tEl = req.get("temperature");
    float temperature = tEl == null || tEl.isJsonNull() ? 1f : tEl.getAsFloat();
    if (!(temperature >= 0f) || temperature > 100f) {
      throw new ApiError(400, "temperature must be in [0, 100]");
    }
    JsonElement topP = req.get("top_p");
    if (topP != null && !topP.isJsonNull() && topP.getAsDouble() != 1.0) {
      throw new ApiError(400, "top_p is not supported (sampling is from the full distribution)");
    }
    long seed = req.has("seed") ? intField(req, "seed", 0) : new Random().nextLong();
    return new Params(n, maxTokens, temperature, stop, seed);
  }

  static boolean boolField(JsonObject o, String name) throws ApiError {
    JsonElement e = o.get(name);
    if (e == null || e.isJsonNull()) {
      return false;
    }
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
      throw new ApiError(400, name + " must be true or false");
    }
    return e.getAsBoolean();
  }

  static int intField(JsonObject o, String name, int dflt) throws ApiError {
    JsonElement e = o.get(name);
    if (e == null || e.isJsonNull()) {
      return dflt;
    }
    try {
      double d = e.getAsDouble();
      if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE) {
        throw new ApiError(400, name + " must be an integer");
      }
      return (int) d;
    } catch (NumberFormatException | UnsupportedOperationException | IllegalStateException x) {
      throw new ApiError(400, name + " must be an integer");
    }
  }

  /** The {@code stop} field: absent, a string, or up to 4 strings (as OpenAI allows). */
  static List<String> stopStrings(JsonElement e) throws ApiError {
    if (e == null || e.isJsonNull()) {
      return List.of();
    }
    List<String> out = new ArrayList<>();
    if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString()) {
      out.add(e.getAsString());
    } else if (e.isJsonArray() && e.getAsJsonArray().size() <= 4) {
      for (JsonElement x : e.getAsJsonArray()) {
        if (!x.isJsonPrimitive() || !x.getAsJsonPrimitive().isString()) {
          throw new ApiError(400, "stop must be a string or an array of up to 4 strings");
        }
        out.add(x.getAsString());
      }
    } else {
      throw new ApiError(400, "stop must be a string or an array of up to 4 strings");
    }
    for (String s : out) {
      if (s.isEmpty()) {
        throw new ApiError(400, "stop strings must not be empty");
      }
    }
    return out;
  }

  /** Where the first stop string starts in {@code text}, or -1. */
  static int stopIndex(String text, List<String> stop) {
    int best = -1;
    for (String s : stop) {
      int i = text.indexOf(s);
      if (i >= 0 && (best < 0 || i < best)) {
        best = i;
      }
    }
    return best;
  }

  /** The prompt's ids; 400 when the tokenizer cannot encode it or it is empty. */
  int[] encode(String text) throws ApiError {
    int[] ids;
    try {
      ids = gen.tokenizer().encode(text);
    } catch (IllegalArgumentException e) {
      throw new ApiError(400, e.getMessage());
    }
    if (ids.length == 0) {
      throw new ApiError(400, "prompt is empty");
    }
    return ids;
  }

  /** One generated token as returned: its string (possibly cut at a stop string) and offset. */
  record Token(TokenLogprob logprob, String text, int offset) {}

  /** One choice: its text, tokens, and why it ended. */
  record Choice(String text, List<Token> tokens, String finishReason) {}

  /** Receives a streamed choice's settled text and tokens, in order. */
  interface Deltas {
    void send(String text, List<Token> tokens) throws IOException;
  }

  /**
   * Generates one choice; with {@code deltas}, streams its settled text and tokens while generating
   * (the rest after the last token).
   */
  Choice choice(int[] prompt, Params p, int k, Random rng, Deltas deltas) throws IOException {
    State s = new State(p.stop(), deltas);
    try {
      if (p.maxTokens() > 0) {
        gen.generate(prompt, p.maxTokens(), p.temperature(), k, rng, s::step);
      }
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
    return s.finish();
  }

  /** The text, tokens and stream position of a choice being generated. */
  private final class State {
    final List<String> stop;
    final Deltas deltas;
    final Set<Integer> end = gen.endTokenIds();
    final List<TokenLogprob> visible = new ArrayList<>();
    final List<Integer> ends = new ArrayList<>(); // text length after each visible token
    String text = "";
    boolean endToken;
    int seen;
    int cut = -1;
    int sentChars;
    int sentTokens;

    State(List<String> stop, Deltas deltas) {
      this.stop = stop;
      this.deltas = deltas;
    }

    boolean step(List<TokenLogprob> sofar) {
      for (; seen < sofar.size(); seen++) {
        TokenLogprob t = sofar.get(seen);
        if (end.contains(t.id())) {
          endToken = true;
          continue;
        }
        visible.add(t);
        int[] ids = new int[visible.size()];
        for (int i = 0; i < ids.length; i++) {
          ids[i] = visible.get(i).id();
        }
        text = gen.tokenizer().decode(ids);
        ends.add(text.length());
        cut = stopIndex(text, stop);
      }
      if (deltas != null && cut < 0) {
        try {
          sendUpTo(settled(), false);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
      return cut >= 0;
    }

    /** Text that no later token can change: not a possible start of a stop string, no U+FFFD. */
    private int settled() {
      int safe = text.length();
      while (safe > 0 && text.charAt(safe - 1) == '\uFFFD') {
        safe--;
      }
      int hold = 0;
      for (String s : stop) {
        for (int len = Math.min(s.length() - 1, text.length()); len > 0; len--) {
          if (text.endsWith(s.substring(0, len))) {
            hold = Math.max(hold, len);
            break;
          }
        }
      }
      return Math.min(safe, text.length() - hold);
    }

    /**
     * Tokens from {@code from}: while streaming ({@code last} false) those whose text ends by
     * {@code limit}; at the end, all of them, or with a stop string those that start before it, the
     * last one cut there.
     */
    private List<Token> tokensBefore(int limit, int from, boolean last) {
      List<Token> out = new ArrayList<>();
      for (int i = from; i < visible.size(); i++) {
        int start = i == 0 ? 0 : ends.get(i - 1);
        int stopAt = ends.get(i);
        String full = strings.text(visible.get(i).id());
        if (!last) {
          if (stopAt > limit) {
            break;
          }
          out.add(new Token(visible.get(i), full, start));
        } else if (cut < 0) {
          out.add(new Token(visible.get(i), full, start));
        } else {
          if (start >= limit) {
            break;
          }
          out.add(
              new Token(
                  visible.get(i), stopAt > limit ? text.substring(start, limit) : full, start));
        }
      }
      return out;
    }

    private void sendUpTo(int limit, boolean last) throws IOException {
      List<Token> tokens = tokensBefore(limit, sentTokens, last);
      String delta = limit > sentChars ? text.substring(sentChars, limit) : "";
      if (!delta.isEmpty() || !tokens.isEmpty()) {
        deltas.send(delta, tokens);
      }
      sentChars = Math.max(sentChars, limit);
      sentTokens += tokens.size();
    }

    Choice finish() throws IOException {
      int limit = cut >= 0 ? cut : text.length();
      if (deltas != null) {
        sendUpTo(limit, true);
      }
      List<Token> all = tokensBefore(limit, 0, true);
      return new Choice(text.substring(0, limit), all, cut >= 0 || endToken ? "stop" : "length");
    }
  }
}
