package dev.distill.teacher.inference;

import java.util.regex.Pattern;

/**
 * How chain-of-thought rationales are sampled.
 *
 * @param samples rationales per prompt (n)
 * @param temperature sampling temperature (> 0; diversity across the n samples)
 * @param maxTokens most new tokens per rationale
 * @param answerPattern extracts the final answer (group 1); generation stops once it matches
 * @param promptTemplate {@code %s} is replaced by the prompt text
 */
public record RationaleConfig(
    int samples, float temperature, int maxTokens, Pattern answerPattern, String promptTemplate) {
  public RationaleConfig {
    if (samples < 1 || samples > 64) {
      throw new IllegalArgumentException("samples must be in [1, 64], got " + samples);
    }
    if (!(temperature > 0f) || !Float.isFinite(temperature)) {
      throw new IllegalArgumentException("temperature must be finite and > 0, got " + temperature);
    }
    if (maxTokens < 1) {
      throw new IllegalArgumentException("maxTokens must be >= 1, got " + maxTokens);
    }
    if (answerPattern.matcher("").groupCount() < 1) {
      throw new IllegalArgumentException("answerPattern needs a capturing group: " + answerPattern);
    }
    if (!promptTemplate.contains("%s")) {
      throw new IllegalArgumentException("promptTemplate must contain %s");
    }
  }

  /** The same settings with n = {@code samples}. */
  public RationaleConfig withSamples(int samples) {
    return new RationaleConfig(samples, temperature, maxTokens, answerPattern, promptTemplate);
  }
}
