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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An {@link OnPolicyTeacher} in this process: a {@link LanguageModel} (e.g. {@code
 * --teacher-checkpoint}) scores sequences in one forward per length, and {@link TopKTail} (the
 * offline labeller's own computation) turns the logits into top-k + tail labels at T.
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

  @Override
  public List<SoftLabels> score(List<int[]> sequences) {
    SoftLabels[] out = new SoftLabels[sequences.size()];
    // one forward per distinct length (the model takes equal-length rows)
    Map<Integer, List<Integer>> byLength = new LinkedHashMap<>();
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
      byLength.computeIfAbsent(n, x -> new ArrayList<>()).add(i);
    }
    for (Map.Entry<Integer, List<Integer>> group : byLength.entrySet()) {
      List<Integer> at = group.getValue();
      int[][] inputs = new int[at.size()][];
      for (int r = 0; r < at.size(); r++) {
        int[] s = sequences.get(at.get(r));
        inputs[r] = Arrays.copyOf(s, s.length - 1);
      }
      try (NDManager m = teacher.model().getNDManager().newSubManager()) {
        NDArray logits = teacher.logits(m, inputs);
        TopKTail top = TopKTail.of(logits, temperature, k);
        for (int r = 0; r < at.size(); r++) {
          out[at.get(r)] =
              new SoftLabels(top.positions(), k, top.rowIds(r), top.rowProbs(r), top.rowTails(r));
        }
      }
    }
    return List.of(out);
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
