package dev.distill.trainer.evaluation;

import dev.distill.models.generation.CachedDecoder;
import dev.distill.models.generation.Sampler;
import dev.distill.models.gpt.LanguageModel;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Exact-match accuracy on reasoning problems, greedy decoding:
 *
 * <ul>
 *   <li>with rationale: the model writes its rationale and then the answer line;
 *   <li>without rationale: the answer prefix (e.g. {@code "A "}) is forced right after the prompt,
 *       so the model must answer directly;
 *   <li>faithfulness: among generations with an answer, the share whose rationale implies the
 *       answer it emitted (read by a task-specific {@code rationaleReader}).
 * </ul>
 */
public final class ReasoningEvaluator {
  /** One problem; {@code slice} groups results, e.g. "add/3-digit". */
  public record Task(String prompt, String gold, String slice) {}

  /** Accuracy per slice and overall. */
  public record Result(
      String name,
      int problems,
      double exactMatchWithRationale,
      double exactMatchWithoutRationale,
      double faithfulness,
      Map<String, Double> withRationaleBySlice) {}

  private final List<Task> tasks;
  private final String contextPrefix;
  private final Pattern answerPattern;
  private final String directAnswerPrefix;
  private final Function<String, String> rationaleReader;
  private final int maxTokens;

  /**
   * @param contextPrefix text before every prompt (what precedes a problem in training data)
   * @param answerPattern extracts the answer, group 1; decoding stops when it matches
   * @param directAnswerPrefix forced after the prompt for the no-rationale measurement
   * @param rationaleReader the answer a generated rationale implies, or null if unreadable
   */
  public ReasoningEvaluator(
      List<Task> tasks,
      String contextPrefix,
      Pattern answerPattern,
      String directAnswerPrefix,
      Function<String, String> rationaleReader,
      int maxTokens) {
    this.tasks = List.copyOf(tasks);
    this.contextPrefix = contextPrefix;
    this.answerPattern = answerPattern;
    this.directAnswerPrefix = directAnswerPrefix;
    this.rationaleReader = rationaleReader;
    this.maxTokens = maxTokens;
  }

  public Result evaluate(String name, LanguageModel model) {
    List<String> contexts = new java.util.ArrayList<>(tasks.size());
    for (Task t : tasks) {
      contexts.add(contextPrefix + t.prompt());
    }
    List<String> withRationale = greedyAll(model, contexts, "");
    List<String> direct = greedyAll(model, contexts, directAnswerPrefix);
    int withOk = 0;
    int withoutOk = 0;
    int answered = 0;
    int faithful = 0;
    Map<String, int[]> slices = new LinkedHashMap<>();
    for (int i = 0; i < tasks.size(); i++) {
      Task t = tasks.get(i);
      String gen = withRationale.get(i);
      Matcher m = answerPattern.matcher(gen);
      String answer = m.find() ? m.group(1) : null;
      boolean ok = t.gold().equals(answer);
      withOk += ok ? 1 : 0;
      int[] s = slices.computeIfAbsent(t.slice(), k -> new int[2]);
      s[0] += ok ? 1 : 0;
      s[1]++;
      if (answer != null) {
        answered++;
        String implied = rationaleReader.apply(gen.substring(0, m.start()));
        faithful += Objects.equals(implied, answer) ? 1 : 0;
      }
      Matcher dm = answerPattern.matcher(direct.get(i));
      withoutOk += dm.find() && t.gold().equals(dm.group(1)) ? 1 : 0;
    }
    Map<String, Double> bySlice = new LinkedHashMap<>();
    slices.forEach((k, v) -> bySlice.put(k, (double) v[0] / v[1]));
    int n = Math.max(1, tasks.size());
    return new Result(
        name,
        tasks.size(),
        (double) withOk / n,
        (double) withoutOk / n,
        answered == 0 ? 0 : (double) faithful / answered,
        bySlice);
  }

  /**
   * Greedy continuations of many contexts: contexts of equal token length decode together in one
   * batch through a KV cache ({@link CachedDecoder}: the batch is encoded once, then one position
   * per token; rows that stop leave the cache with them), each stopping when its output matches the
   * answer pattern.
   */
  List<String> greedyAll(LanguageModel model, List<String> contexts, String forced) {
    String[] out = new String[contexts.size()];
    Map<Integer, List<Integer>> byLength = new java.util.TreeMap<>();
    int[][] seqs = new int[contexts.size()][];
    for (int i = 0; i < contexts.size(); i++) {
      try {
        seqs[i] = model.tokenizer().encode(contexts.get(i) + forced);
        byLength.computeIfAbsent(seqs[i].length, k -> new java.util.ArrayList<>()).add(i);
      } catch (IllegalArgumentException e) {
        out[i] = ""; // a prompt outside the model's vocabulary cannot be answered
      }
    }
    for (List<Integer> group : byLength.values()) {
      StringBuilder[] text = new StringBuilder[contexts.size()];
      List<Integer> active = new java.util.ArrayList<>(group);
      for (int i : group) {
        text[i] = new StringBuilder(forced);
      }
      try (CachedDecoder decoder = new CachedDecoder(model)) {
        for (int step = 0; step < maxTokens && !active.isEmpty(); step++) {
          int[][] ctx = new int[active.size()][];
          for (int a = 0; a < active.size(); a++) {
            ctx[a] = seqs[active.get(a)]; // the decoder crops to the block size
          }
          float[][] last = decoder.nextLogits(ctx);
          int[] next = new int[last.length];
          for (int a = 0; a < last.length; a++) {
            next[a] = Sampler.argmax(last[a]);
          }
          List<Integer> still = new java.util.ArrayList<>(active.size());
          for (int a = 0; a < active.size(); a++) {
            int i = active.get(a);
            seqs[i] = Arrays.copyOf(seqs[i], seqs[i].length + 1);
            seqs[i][seqs[i].length - 1] = next[a];
            text[i].append(model.tokenizer().decode(new int[] {next[a]}));
            if (!answerPattern.matcher(text[i]).find()) {
              still.add(i);
            }
          }
          active = still;
        }
      }
      for (int i : group) {
        out[i] = text[i].toString();
      }
    }
    return List.of(out);
  }

  /** Greedy continuation of one context (see {@link #greedyAll}). */
  String greedy(LanguageModel model, String context, String forced) {
    return greedyAll(model, List.of(context), forced).get(0);
  }
}
