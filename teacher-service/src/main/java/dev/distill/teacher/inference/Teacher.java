package dev.distill.teacher.inference;

import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.avro.Rationale;
import java.util.List;
import java.util.Optional;
import java.util.Random;

/**
 * A source of soft labels: an in-process model ({@link LocalTeacher}) or a remote OpenAI-compatible
 * endpoint. Implementations are safe to call from one thread at a time; the {@link DynamicBatcher}
 * is the one caller in the service.
 */
public interface Teacher extends AutoCloseable {
  /**
   * Labels sequences of any lengths in [2, {@link #maxSequenceTokens()}]; position i of a result is
   * the teacher's distribution over token i + 1.
   *
   * @throws TeacherException when the teacher cannot label them ({@link
   *     TeacherException#retryable()} says whether trying again may help)
   */
  List<LabeledSequence> label(List<int[]> sequences) throws TeacherException;

  /** The longest sequence (input tokens + 1) one call labels. */
  int maxSequenceTokens();

  /** Text to token ids with the tokenizer the soft labels refer to. */
  int[] encode(String text);

  /** Token ids to text. */
  String decode(int[] ids);

  /** True when {@link #sampleRationales} is implemented. */
  default boolean samplesRationales() {
    return false;
  }

  /**
   * Samples {@code config.samples()} chain-of-thought rationales per prompt (the template applied
   * to each), each with its text, token ids, extracted answer, mean log-probability and soft
   * labels.
   *
   * @throws TeacherException when the teacher cannot sample them
   */
  default List<List<Rationale>> sampleRationales(
      List<String> prompts, RationaleConfig config, Random rng) throws TeacherException {
    throw new TeacherException(
        "teacher " + provenance().getTeacherId() + " does not sample rationales", false);
  }

  /**
   * Text generation with log-probabilities (the OpenAI-compatible completions endpoints), where
   * this teacher offers it; empty otherwise (a remote teacher).
   */
  default Optional<TextGeneration> textGeneration() {
    return Optional.empty();
  }

  /** The provenance of every record this teacher labels (T and k included). */
  Provenance provenance();

  @Override
  default void close() {}
}
