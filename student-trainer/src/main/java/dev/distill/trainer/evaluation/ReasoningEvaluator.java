package dev.distill.trainer.evaluation;

import ai.djl.ndarray.NDManager;
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
    int withOk = 0;
    int withoutOk = 0;
    int answered = 0;
    int faithful = 0;
    Map<String, int[]> slices = new LinkedHashMap<>();
    for (Task t : tasks) {
      String gen = greedy(model, contextPrefix + t.prompt(), "");
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
      String direct = greedy(model, contextPrefix + t.prompt(), directAnswerPrefix);
      Matcher dm = answerPattern.matcher(direct);
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
   * Greedy continuation of {@code context + forced} until the answer pattern matches the output
   * (which starts with {@code forced}) or {@code maxTokens} are generated.
   */
  String greedy(LanguageModel model, String context, String forced) {
    int[] seq;
    try {
      seq = model.tokenizer().encode(context + forced);
    } catch (IllegalArgumentException e) {
      return ""; // a prompt outside the model's vocabulary cannot be answered
    }
    int block = model.config().blockSize();
    StringBuilder out = new StringBuilder(forced);
    for (int i = 0; i < maxTokens; i++) {
      int[] ctx =
          seq.length > block ? Arrays.copyOfRange(seq, seq.length - block, seq.length) : seq;
      int next;
      try (NDManager m = NDManager.newBaseManager()) {
        next = (int) model.logits(m, new int[][] {ctx}).get(0, ctx.length - 1).argMax().getLong();
      }
      seq = Arrays.copyOf(seq, seq.length + 1);
      seq[seq.length - 1] = next;
      out.append(model.tokenizer().decode(new int[] {next}));
      if (answerPattern.matcher(out).find()) {
        break;
      }
    }
    return out.toString();
  }
}
