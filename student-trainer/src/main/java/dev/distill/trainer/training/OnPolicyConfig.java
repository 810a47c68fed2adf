package dev.distill.trainer.training;

import dev.distill.trainer.loss.Divergence;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * On-policy and mixed distillation (GKD: Agarwal et al., "On-Policy Distillation of Language
 * Models: Learning from Self-Generated Mistakes", ICLR 2024, arXiv:2306.13649): for a share {@code
 * fraction} (GKD's lambda) of the training batches the student samples continuations of the batch's
 * prompts and is trained on its own tokens, scored by the teacher ({@link OnPolicyBatches}).
 *
 * @param fraction lambda in [0, 1]: the share of batches made on-policy; 0 (the default) is offline
 *     KD exactly as without this feature
 * @param temperature the student's sampling temperature (finite, >= 0; 0 = greedy), key {@code
 *     train.on-policy-temperature}
 * @param maxTokens most tokens the student generates per sequence (>= 1); with an empty {@code
 *     promptEnd} the last {@code maxTokens} positions of each example are replaced by the student's
 *     own continuation of the positions before them (fewer when the example is shorter)
 * @param divergence the divergence on the generated tokens: generalized JSD(beta) as in GKD, or
 *     reverse KL as in on-policy distillation (Thinking Machines, 2025)
 * @param promptEnd where a row's prompt ends, key {@code train.on-policy-prompt-end}: the prompt is
 *     the row up to and including the first occurrence of this text's tokens (e.g. {@code "=\n"}
 *     after an arithmetic problem), so the student samples a whole answer after it; a row without
 *     it is left out of the on-policy batch and counted ({@link OnPolicyBatches.Stats}). Empty (the
 *     default): the rows are text windows, the prompt is the row minus its last {@code maxTokens}
 *     tokens
 * @param stop where a sampled completion ends, key {@code train.on-policy-stop}: a row stops once
 *     its generated tokens end with this text's tokens (kept), so the teacher scores and the loss
 *     reads only the answer; empty (the default): every row samples {@code maxTokens} tokens
 */
public record OnPolicyConfig(
    float fraction,
    float temperature,
    int maxTokens,
    Divergence divergence,
    String promptEnd,
    String stop) {

  public OnPolicyConfig {
    if (!(fraction >= 0f && fraction <= 1f)) {
      throw new IllegalArgumentException(
          "train.on-policy-fraction must be in [0, 1], got " + fraction);
    }
    if (!(temperature >= 0f) || Float.isInfinite(temperature)) {
      throw new IllegalArgumentException(
          "train.on-policy-temperature must be finite and >= 0, got " + temperature);
    }
    if (maxTokens < 1) {
      throw new IllegalArgumentException(
          "train.on-policy-max-tokens must be >= 1, got " + maxTokens);
    }
    Objects.requireNonNull(divergence, "divergence");
    Objects.requireNonNull(promptEnd, "promptEnd");
    Objects.requireNonNull(stop, "stop");
    if (divergence.kind() != Divergence.Kind.JSD
        && divergence.kind() != Divergence.Kind.REVERSE_KL) {
      throw new IllegalArgumentException(
          "train.on-policy-divergence must be jsd (with train.on-policy-beta) or reverse_kl, got "
              + divergence.name());
    }
  }

  /**
   * {@link #of(float, float, int, String, float, String, String)} for text windows: no prompt
   * boundary, no stop.
   */
  public static OnPolicyConfig of(
      float fraction, float temperature, int maxTokens, String divergence, float beta) {
    return of(fraction, temperature, maxTokens, divergence, beta, "", "");
  }

  /**
   * From the config values: {@code divergence} is {@code jsd} (then {@code beta} is JSD's beta) or
   * {@code reverse_kl}; {@code promptEnd} and {@code stop} are given as config text, where the
   * escapes {@code \n}, {@code \t} and {@code \\} stand for a newline, a tab and a backslash
   * (config values are trimmed, so a newline can only be written escaped).
   *
   * @throws IllegalArgumentException naming the key that is wrong
   */
  public static OnPolicyConfig of(
      float fraction,
      float temperature,
      int maxTokens,
      String divergence,
      float beta,
      String promptEnd,
      String stop) {
    Divergence d =
        switch (divergence.trim()) {
          case "jsd" -> {
            if (!(beta >= 0f && beta <= 1f)) {
              throw new IllegalArgumentException(
                  "train.on-policy-beta must be in [0, 1], got " + beta);
            }
            yield Divergence.jsd(beta);
          }
          case "reverse_kl" -> Divergence.REVERSE_KL;
          default ->
              throw new IllegalArgumentException(
                  "train.on-policy-divergence must be jsd or reverse_kl, got '" + divergence + "'");
        };
    return new OnPolicyConfig(
        fraction,
        temperature,
        maxTokens,
        d,
        unescape("train.on-policy-prompt-end", promptEnd),
        unescape("train.on-policy-stop", stop));
  }

  /** {@code \n}, {@code \t} and {@code \\} decoded; any other backslash fails naming the key. */
  static String unescape(String key, String text) {
    StringBuilder sb = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c != '\\') {
        sb.append(c);
        continue;
      }
      char next = i + 1 < text.length() ? text.charAt(i + 1) : ' ';
      switch (next) {
        case 'n' -> sb.append('\n');
        case 't' -> sb.append('\t');
        case '\\' -> sb.append('\\');
        default ->
            throw new IllegalArgumentException(
                key + ": only \\n, \\t and \\\\ may follow a backslash, got '" + text + "'");
      }
      i++;
    }
    return sb.toString();
  }

  /** The inverse of {@link #unescape}. */
  static String escape(String text) {
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t");
  }

  /** Whether any batch is on-policy. */
  public boolean enabled() {
    return fraction > 0f;
  }

  /** Every setting, as strings (recorded with the run). */
  public Map<String, String> describe() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("onPolicy.fraction", Float.toString(fraction));
    m.put("onPolicy.temperature", Float.toString(temperature));
    m.put("onPolicy.maxTokens", Integer.toString(maxTokens));
    m.put("onPolicy.divergence", divergence.name());
    m.put("onPolicy.promptEnd", escape(promptEnd));
    m.put("onPolicy.stop", escape(stop));
    return m;
  }
}
