package dev.distill.teacher.labeling;

import com.google.gson.JsonObject;
import dev.distill.teacher.inference.Teacher;
import picocli.CommandLine.Option;

/**
 * The labelling-mode options of {@code distill label} ({@code teacher-service batch}), a picocli
 * mixin: which soft labels ({@code --labels topk | sampled:N}) and whether the teacher first writes
 * its own completions of each prompt ({@code --generate N}, sequence-level KD).
 */
public final class LabelModeOptions {
  @Option(
      names = "--labels",
      defaultValue = "topk",
      description =
          "soft labels: topk (top-k + tail, codec v1, --top-k ids) or sampled:N (N ids per"
              + " position drawn with replacement from the teacher at T, stored as counts: codec"
              + " v2, unbiased; Anshumann et al. 2025) (default ${DEFAULT-VALUE})")
  String labels;

  @Option(
      names = "--generate",
      defaultValue = "0",
      description =
          "sequence-level KD: the teacher writes N completions per prompt and each prompt +"
              + " completion is labelled as a record with prompt id <id>#g<i> (0: label the"
              + " prompts themselves) (default ${DEFAULT-VALUE})")
  int generate;

  @Option(
      names = "--generate-temperature",
      defaultValue = "1.0",
      description = "temperature of the completions, 0 = greedy (default ${DEFAULT-VALUE})")
  float generateTemperature;

  @Option(
      names = "--generate-max-tokens",
      defaultValue = "64",
      description = "most tokens per completion (default ${DEFAULT-VALUE})")
  int generateMaxTokens;

  /**
   * N of {@code sampled:N}, or 0 for {@code topk}.
   *
   * @throws IllegalArgumentException naming the option on anything else
   */
  public int samples() {
    return parseLabels(labels);
  }

  /** {@code topk} is 0, {@code sampled:N} is N >= 1. */
  static int parseLabels(String spec) {
    if ("topk".equals(spec)) {
      return 0;
    }
    if (spec != null && spec.startsWith("sampled:")) {
      try {
        int n = Integer.parseInt(spec.substring("sampled:".length()));
        if (n >= 1) {
          return n;
        }
      } catch (NumberFormatException e) {
        // reported below
      }
    }
    throw new IllegalArgumentException(
        "--labels " + spec + ": expected topk or sampled:N with N >= 1 (e.g. sampled:12)");
  }

  /** The sequence-level KD settings, or null without {@code --generate}. */
  SequenceLevel generation() {
    if (generate < 0) {
      throw new IllegalArgumentException("--generate must be >= 0, got " + generate);
    }
    return generate == 0
        ? null
        : new SequenceLevel(generate, generateTemperature, generateMaxTokens);
  }

  /** The teacher that labels in this mode: {@code teacher} itself, or its sampled-label view. */
  public Teacher apply(Teacher teacher) {
    try {
      int n = samples();
      generation(); // refuse bad --generate settings before any work
      return n == 0 ? teacher : new SampledLabelsTeacher(teacher, n);
    } catch (RuntimeException e) {
      teacher.close();
      throw e;
    }
  }

  /** A batch run in this mode. */
  public BatchRun batchRun(PromptLabeler labeler, int tokenBudget, Teacher teacher) {
    return new BatchRun(labeler, tokenBudget, generation(), teacher);
  }

  /** The mode in the run's {@code _config.json}. */
  public void describe(JsonObject c) {
    c.addProperty("labels", labels);
    c.addProperty("generate", generate);
    c.addProperty("generate_temperature", generateTemperature);
    c.addProperty("generate_max_tokens", generateMaxTokens);
  }
}
