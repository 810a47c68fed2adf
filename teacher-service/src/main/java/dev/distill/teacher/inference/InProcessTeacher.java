package dev.distill.teacher.inference;

import dev.distill.schemas.avro.Rationale;
import java.util.List;
import java.util.Random;

/**
 * What every in-process teacher does the same way, whatever runs the model ({@link LocalTeacher}:
 * our GPT; {@link TorchScriptTeacher}: a TorchScript model): sequences of any lengths labelled
 * exactly from the logits, grouped by length into forward passes ({@link SoftLabeler}), and
 * rationales sampled from the same model ({@link RationaleSampler}). A subclass gives the model
 * ({@link InProcessModel}) and its labeler.
 */
public abstract class InProcessTeacher implements Teacher {
  private final String kind;

  /**
   * @param kind names the model in errors ("{@code kind} forward failed")
   */
  protected InProcessTeacher(String kind) {
    this.kind = kind;
  }

  /** The model that labels and samples. */
  protected abstract InProcessModel inProcessModel();

  /** Exact soft labels of equal-length sequences from {@link #inProcessModel()}. */
  protected abstract SoftLabeler labeler();

  public LabelingConfig config() {
    return labeler().config();
  }

  @Override
  public synchronized List<LabeledSequence> label(List<int[]> sequences) throws TeacherException {
    for (int i = 0; i < sequences.size(); i++) {
      int len = sequences.get(i).length;
      if (len < 2 || len > maxSequenceTokens()) {
        throw new TeacherException(
            "sequence " + i + " has " + len + " tokens, outside [2, " + maxSequenceTokens() + "]",
            false);
      }
    }
    try {
      return LengthGroups.map(sequences, labeler()::label);
    } catch (IllegalArgumentException e) {
      throw new TeacherException(e.getMessage(), false, e);
    } catch (RuntimeException e) {
      throw new TeacherException(kind + " forward failed: " + e.getMessage(), true, e);
    }
  }

  @Override
  public int maxSequenceTokens() {
    return inProcessModel().contextTokens() + 1;
  }

  @Override
  public int[] encode(String text) {
    return inProcessModel().encode(text);
  }

  @Override
  public String decode(int[] ids) {
    return inProcessModel().decode(ids);
  }

  @Override
  public boolean samplesRationales() {
    return true;
  }

  /** {@link RationaleSampler} on this model: n samples per prompt decoded in one batch. */
  @Override
  public synchronized List<List<Rationale>> sampleRationales(
      List<String> prompts, RationaleConfig config, Random rng) throws TeacherException {
    try {
      return new RationaleSampler(inProcessModel(), labeler(), config).sampleAll(prompts, rng);
    } catch (IllegalArgumentException e) {
      throw new TeacherException(e.getMessage(), false, e);
    } catch (RuntimeException e) {
      throw new TeacherException("rationale sampling failed: " + e.getMessage(), true, e);
    }
  }
}
