package dev.distill.teacher.io;

import dev.distill.schemas.avro.Prompt;
import dev.distill.teacher.labeling.PromptLabeler.Reason;
import dev.distill.teacher.labeling.PromptLabeler.Rejection;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * One id, one prompt, within a batch input (issue 17): every keyed store downstream (CurateJob's
 * dedupe, EvalJob's joins) keys on {@code prompt_id}, so two different prompts under one id must
 * not both be labelled. The first occurrence wins. A later one with different content (text,
 * source, gold answer, rationale count) is a {@link Reason#DUPLICATE_ID} reject naming both places;
 * an exact repeat is labelled once and recorded as {@link Reason#REPEATED_PROMPT}, so nothing is
 * dropped silently.
 */
final class PromptIds {
  private record First(String where, Prompt prompt) {}

  private final Map<String, First> seen = new HashMap<>();

  /**
   * @return null when {@code p} is the first prompt with its id (it is then remembered), else the
   *     rejection of this later occurrence
   */
  Rejection check(Prompt p, String where) {
    String id = p.getPromptId().toString();
    First first = seen.putIfAbsent(id, new First(where, p));
    if (first == null) {
      return null;
    }
    String differs = firstDifference(first.prompt(), p);
    if (differs == null) {
      return new Rejection(
          Reason.REPEATED_PROMPT,
          where
              + ": prompt_id "
              + id
              + " repeats "
              + first.where()
              + " with the same content; labelled once");
    }
    return new Rejection(
        Reason.DUPLICATE_ID,
        where
            + ": prompt_id "
            + id
            + " was already used at "
            + first.where()
            + " with a different "
            + differs
            + "; give each prompt its own id (the first one is labelled)");
  }

  private static String firstDifference(Prompt a, Prompt b) {
    if (!Objects.equals(str(a.getText()), str(b.getText()))) {
      return "text";
    }
    if (!Objects.equals(str(a.getSource()), str(b.getSource()))) {
      return "source";
    }
    if (!Objects.equals(str(a.getGoldAnswer()), str(b.getGoldAnswer()))) {
      return "gold_answer";
    }
    if (a.getNumRationales() != b.getNumRationales()) {
      return "num_rationales";
    }
    return null;
  }

  private static String str(CharSequence s) {
    return s == null ? null : s.toString();
  }
}
