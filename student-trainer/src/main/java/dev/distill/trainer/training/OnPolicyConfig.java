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
 * @param maxTokens tokens the student generates per sequence (>= 1): the last {@code maxTokens}
 *     positions of each example are replaced by the student's own continuation of the positions
 *     before them (fewer when the example is shorter)
 * @param divergence the divergence on the generated tokens: generalized JSD(beta) as in GKD, or
 *     reverse KL as in on-policy distillation (Thinking Machines, 2025)
 */
public record OnPolicyConfig(
    float fraction, float temperature, int maxTokens, Divergence divergence) {

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
    if (divergence.kind() != Divergence.Kind.JSD
        && divergence.kind() != Divergence.Kind.REVERSE_KL) {
      throw new IllegalArgumentException(
          "train.on-policy-divergence must be jsd (with train.on-policy-beta) or reverse_kl, got "
              + divergence.name());
    }
  }

  /**
   * From the config values: {@code divergence} is {@code jsd} (then {@code beta} is JSD's beta) or
   * {@code reverse_kl}.
   *
   * @throws IllegalArgumentException naming the key that is wrong
   */
  public static OnPolicyConfig of(
      float fraction, float temperature, int maxTokens, String divergence, float beta) {
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
    return new OnPolicyConfig(fraction, temperature, maxTokens, d);
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
    return m;
  }
}
