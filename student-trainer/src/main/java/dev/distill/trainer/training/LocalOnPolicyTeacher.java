package dev.distill.trainer.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.labels.TopKTail;
import dev.distill.models.tokenizer.Tokenizer;
import dev.distill.models.tokenizer.Tokenizers;
import dev.distill.schemas.codec.SoftLabels;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An {@link OnPolicyTeacher} in this process: a {@link LanguageModel} (e.g. {@code
 * --teacher-checkpoint}) scores a batch of sequences in one right-padded forward, and {@link
 * TopKTail} (the offline labeller's own computation) turns the logits into top-k + tail labels at
 * T.
 */
public final class LocalOnPolicyTeacher implements OnPolicyTeacher {
  private final LanguageModel teacher;
  private final float temperature;
  private final int k;

  /**
   * @param student the student's tokenizer: must be the teacher's ({@link Tokenizers#requireSame})
   * @throws IllegalArgumentException for another tokenizer, or k outside the teacher's vocabulary
   */
  public LocalOnPolicyTeacher(LanguageModel teacher, Tokenizer student, float temperature, int k) {
    Tokenizers.requireSame(teacher.tokenizer(), student);
    if (k < 1 || k > teacher.vocabSize()) {
      throw new IllegalArgumentException(
          "k must be in [1, " + teacher.vocabSize() + "] (the teacher's vocabulary), got " + k);
    }
    this.teacher = teacher;
    this.temperature = temperature;
    this.k = k;
  }

  /**
   * Scores all sequences in one forward: each row is right-padded (with its own last input token)
   * to the longest row's length. The model is causal, so position {@code p < n - 1} of a padded row
   * sees only the row's own first {@code p + 1} tokens and its logits are those of the unpadded row
   * (up to float rounding: the matrix products have other shapes); the padded positions' labels are
   * dropped.
   */
  @Override
  public List<SoftLabels> score(List<int[]> sequences) {
    int width = 0;
    for (int i = 0; i < sequences.size(); i++) {
      int n = sequences.get(i).length;
      if (n < 2 || n - 1 > teacher.config().blockSize()) {
        throw new IllegalArgumentException(
            "sequence "
                + i
                + " has "
                + n
                + " tokens; the teacher scores 2 to "
                + (teacher.config().blockSize() + 1));
      }
      width = Math.max(width, n - 1);
    }
    if (sequences.isEmpty()) {
      return List.of();
    }
    int[][] inputs = new int[sequences.size()][];
    for (int r = 0; r < inputs.length; r++) {
      int[] s = sequences.get(r);
      inputs[r] = Arrays.copyOf(s, width);
      Arrays.fill(inputs[r], s.length - 1, width, s[s.length - 2]);
    }
    List<SoftLabels> out = new ArrayList<>(inputs.length);
    try (NDManager m = teacher.model().getNDManager().newSubManager()) {
      NDArray logits = teacher.logits(m, inputs);
      TopKTail top = TopKTail.of(logits, temperature, k);
      for (int r = 0; r < inputs.length; r++) {
        int positions = sequences.get(r).length - 1;
        out.add(
            new SoftLabels(
                positions,
                k,
                Arrays.copyOf(top.rowIds(r), positions * k),
                Arrays.copyOf(top.rowProbs(r), positions * k),
                Arrays.copyOf(top.rowTails(r), positions)));
      }
    }
    return out;
  }

  @Override
  public int k() {
    return k;
  }

  @Override
  public float temperature() {
    return temperature;
  }
}
