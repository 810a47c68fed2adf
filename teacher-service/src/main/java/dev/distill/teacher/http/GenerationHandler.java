package dev.distill.teacher.http;

import com.google.gson.FieldNamingPolicy;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import dev.distill.teacher.http.Generations.Choice;
import dev.distill.teacher.http.Generations.Params;
import dev.distill.teacher.http.Generations.Token;
import dev.distill.teacher.inference.Teacher;
import dev.distill.teacher.service.TeacherMetrics;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.function.Function;

/**
 * What {@code /v1/completions} ({@link CompletionsHandler}) and {@code /v1/chat/completions}
 * ({@link ChatCompletionsHandler}) share around their choices: the 404 for a teacher that does not
 * generate, the response id, the loop over the {@code n} choices (one seeded generator for all, so
 * a request with a seed is reproducible), whole or streamed ({@link Sse}: per choice an opening
 * chunk, the settled deltas and a closing chunk with {@code finish_reason}, then the optional usage
 * chunk), the usage and the metrics. The endpoints say what a choice looks like ({@link Format}).
 *
 * @param <C> the endpoint's choice record, serialised by {@link #GSON}
 */
abstract class GenerationHandler<C> implements JsonEndpoint {
  /**
   * OpenAI bodies: record components in snake_case; null members are written ({@code
   * "finish_reason": null}), as the OpenAI API writes them.
   */
  static final Gson GSON =
      new GsonBuilder()
          .setFieldNamingPolicy(FieldNamingPolicy.LOWER_CASE_WITH_UNDERSCORES)
          .serializeNulls()
          .disableHtmlEscaping()
          .create();

  /** {@code usage}: prompt, completion and total tokens. */
  record Usage(int promptTokens, int completionTokens, int totalTokens) {
    static Usage of(int prompt, int completion) {
      return new Usage(prompt, completion, prompt + completion);
    }
  }

  /** A streamed chunk: one choice's piece. */
  record Chunk<C>(String id, String object, long created, String model, List<C> choices) {}

  /** A whole answer, or the last streamed chunk with the usage (no choices). */
  record Response<C>(
      String id, String object, long created, String model, List<C> choices, Usage usage) {}

  /**
   * One validated request, as the shared loop needs it.
   *
   * @param k top-k log-probabilities per generated token (0: none)
   * @param scoredTokens prompt tokens scored besides the generation (echo), for the metrics
   */
  record Job(
      Params params,
      int[] promptIds,
      int k,
      boolean stream,
      boolean usageChunk,
      int scoredTokens) {}

  /** What a choice of this endpoint looks like, whole and streamed. */
  interface Format<C> {
    /** The first chunk of a streamed choice, or null for none. */
    C opening(int index) throws IOException;

    /** A streamed piece: settled text and its tokens. */
    C delta(int index, String text, List<Token> tokens);

    /** The last chunk of a streamed choice. */
    C closing(int index, String finishReason);

    /** A whole choice. */
    C whole(int index, Choice choice);
  }

  final Teacher teacher;
  final Generations gens; // null: the teacher does not generate
  final ServerConfig config;
  final TeacherMetrics metrics;
  private final String name;
  private final String idPrefix;
  private final String object;
  private final String chunkObject;

  /**
   * @param name the endpoint in the 404 of a teacher that does not generate
   * @param idPrefix of the response id ({@code cmpl-}, {@code chatcmpl-})
   * @param object of a whole answer; {@code chunkObject} of a streamed chunk
   */
  GenerationHandler(
      Teacher teacher,
      ServerConfig config,
      TeacherMetrics metrics,
      String name,
      String idPrefix,
      String object,
      String chunkObject) {
    this.teacher = teacher;
    this.gens = teacher.textGeneration().map(g -> new Generations(g, config)).orElse(null);
    this.config = config;
    this.metrics = metrics;
    this.name = name;
    this.idPrefix = idPrefix;
    this.object = object;
    this.chunkObject = chunkObject;
  }

  @Override
  public final int handle(HttpExchange ex, JsonObject req) throws IOException, ApiError {
    if (gens == null) {
      throw new ApiError(404, name + " are served for an in-process teacher only");
    }
    return serve(ex, req);
  }

  /** Parses the request and answers it through {@link #generate}. */
  abstract int serve(HttpExchange ex, JsonObject req) throws IOException, ApiError;

  /** Generates the job's {@code n} choices and answers them, whole or streamed. */
  final int generate(HttpExchange ex, Job job, Format<C> format) throws IOException {
    Params p = job.params();
    Random rng = new Random(p.seed());
    String id = idPrefix + UUID.randomUUID();
    long created = System.currentTimeMillis() / 1000;
    String model = teacher.provenance().getTeacherId().toString();
    int promptTokens = job.promptIds().length;
    int completionTokens = 0;
    if (job.stream()) {
      Function<C, Chunk<C>> chunk = c -> new Chunk<>(id, chunkObject, created, model, List.of(c));
      try (Sse sse = Sse.start(ex)) {
        try {
          for (int c = 0; c < p.n(); c++) {
            int index = c;
            C first = format.opening(index);
            if (first != null) {
              sse.event(chunk.apply(first));
            }
            Choice choice =
                gens.choice(
                    job.promptIds(),
                    p,
                    job.k(),
                    rng,
                    (text, tokens) -> sse.event(chunk.apply(format.delta(index, text, tokens))));
            completionTokens += choice.tokens().size();
            sse.event(chunk.apply(format.closing(index, choice.finishReason())));
          }
          if (job.usageChunk()) {
            sse.event(
                new Response<>(
                    id,
                    chunkObject,
                    created,
                    model,
                    List.of(),
                    Usage.of(promptTokens, completionTokens)));
          }
        } catch (RuntimeException e) {
          sse.error(500, "generation failed: " + e.getMessage());
        }
        sse.done();
      }
      countBatch(job, completionTokens);
      return 200;
    }
    List<C> choices = new ArrayList<>();
    for (int c = 0; c < p.n(); c++) {
      Choice choice = gens.choice(job.promptIds(), p, job.k(), rng, null);
      choices.add(format.whole(c, choice));
      completionTokens += choice.tokens().size();
    }
    Response<C> out =
        new Response<>(
            id, object, created, model, choices, Usage.of(promptTokens, completionTokens));
    countBatch(job, completionTokens);
    return Responses.send(
        ex, 200, Responses.JSON, GSON.toJson(out).getBytes(StandardCharsets.UTF_8));
  }

  private void countBatch(Job job, int completionTokens) {
    metrics.batch(
        job.params().n(),
        job.promptIds().length + completionTokens,
        completionTokens + job.scoredTokens(),
        0);
  }
}
