package dev.distill.teacher.labeling;

import dev.distill.schemas.avro.Prompt;
import dev.distill.teacher.inference.Teacher;
import dev.distill.teacher.inference.TextGeneration;
import dev.distill.teacher.inference.TextGeneration.TokenLogprob;
import dev.distill.teacher.labeling.PromptLabeler.Outcome;
import dev.distill.teacher.labeling.PromptLabeler.Prepared;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Sequence-level knowledge distillation (Kim and Rush 2016, "Sequence-Level Knowledge
 * Distillation", EMNLP, arXiv:1606.07947): the teacher writes {@code completions} continuations of
 * each prompt (greedy at temperature 0, else sampled at that temperature), and each sequence {@code
 * prompt tokens + generated tokens} is labelled with its own soft labels, so the student is trained
 * on the teacher's text with soft targets.
 *
 * <p>Completion i of prompt {@code id} becomes prompt {@code id#g<i>} ({@link #completionId}) with
 * source {@code <source>/teacher-generated} ({@link #SOURCE_SUFFIX}): the provenance of a record
 * made from teacher-generated text. The generator of completion i is seeded from the run id, the
 * prompt id and i, so a re-run writes the same completions.
 *
 * @param completions N, completions per prompt, >= 1
 * @param temperature sampling temperature, 0 = greedy (then N must be 1: N greedy completions are
 *     the same text)
 * @param maxTokens most tokens generated per completion, >= 1 (fewer when the teacher emits an end
 *     token)
 */
record SequenceLevel(int completions, float temperature, int maxTokens) {
  /** Appended to a generated record's source: the record's text was written by the teacher. */
  public static final String SOURCE_SUFFIX = "/teacher-generated";

  public SequenceLevel {
    if (completions < 1) {
      throw new IllegalArgumentException("completions per prompt must be >= 1, got " + completions);
    }
    if (!(temperature >= 0f) || !Float.isFinite(temperature)) {
      throw new IllegalArgumentException(
          "generation temperature must be finite and >= 0 (0 = greedy), got " + temperature);
    }
    if (temperature == 0f && completions > 1) {
      throw new IllegalArgumentException(
          completions
              + " greedy completions (temperature 0) would be the same text: give 1 completion"
              + " or a temperature > 0");
    }
    if (maxTokens < 1) {
      throw new IllegalArgumentException("max generated tokens must be >= 1, got " + maxTokens);
    }
  }

  /** The prompt id of completion {@code i} of prompt {@code promptId}. */
  public static String completionId(String promptId, int i) {
    return promptId + "#g" + i;
  }

  /**
   * The N completions of a prepared prompt, each prepared for labelling (chunked) by {@code
   * labeler}, or a rejection when a completed sequence is over the labeler's limits.
   *
   * @throws IllegalArgumentException when the teacher does not generate text (a remote teacher)
   */
  public List<Outcome> complete(Prepared prompt, Teacher teacher, PromptLabeler labeler) {
    TextGeneration gen =
        teacher
            .textGeneration()
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        "sequence-level KD needs a teacher that generates text (in-process); "
                            + teacher.provenance().getTeacherId()
                            + " does not"));
    Prompt p = prompt.prompt();
    List<Outcome> out = new ArrayList<>(completions);
    for (int i = 0; i < completions; i++) {
      String id = completionId(p.getPromptId().toString(), i);
      Random rng = new Random(((long) (p.getRunId() + "/" + id).hashCode() << 32) ^ i);
      List<TokenLogprob> written =
          gen.generate(prompt.tokens(), maxTokens, temperature, 1, rng, soFar -> false);
      int[] seq = Arrays.copyOf(prompt.tokens(), prompt.tokens().length + written.size());
      for (int j = 0; j < written.size(); j++) {
        seq[prompt.tokens().length + j] = written.get(j).id();
      }
      Prompt completed =
          Prompt.newBuilder(p)
              .setPromptId(id)
              .setSource(p.getSource() + SOURCE_SUFFIX)
              .setText(teacher.decode(seq))
              .setNumRationales(0)
              .build();
      out.add(labeler.prepareTokens(completed, seq));
    }
    return out;
  }
}
