package dev.distill.benchmarks.trainer;

import ai.djl.ndarray.NDManager;
import dev.distill.trainer.training.BatchSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Batch-source wrappers of {@link MethodsEvidence}'s arithmetic part. */
final class MethodsEvidenceSources {
  private MethodsEvidenceSources() {}

  /**
   * Hands {@code OnPolicyBatches} rows that make it sample a whole completion after each problem.
   * {@code OnPolicyBatches} keeps a row but for its last {@code min(maxTokens, positions)} tokens
   * as the prompt; on a gold row ({@code ".\n347+285=\n7+5+0=12 c1\n...A 632.\n"}) that prompt
   * would end inside the rationale for long problems and inside the problem for short ones. Here
   * each row's {@link BatchSource.Batch#sequences()} becomes its prompt (up to and including the
   * {@code "=\n"} after the problem) followed by {@code newTokens} placeholder ids, so the prompt
   * is exactly the problem and the student samples {@code newTokens} tokens after it (the
   * placeholders are never read: the sampler writes over them). Inputs, labels and loss of the
   * offline batch are unchanged, so the batches that stay offline train on the gold rows.
   */
  static final class PromptRows implements BatchSource {
    private final BatchSource offline;
    private final int equalsId;
    private final int newTokens;

    /**
     * @param equalsId the id of {@code '='}, which ends every problem (followed by one newline)
     * @param newTokens tokens the student samples after each problem ({@code
     *     train.on-policy-max-tokens})
     */
    PromptRows(BatchSource offline, int equalsId, int newTokens) {
      this.offline = offline;
      this.equalsId = equalsId;
      this.newTokens = newTokens;
    }

    @Override
    public Batch next(NDManager manager, Random rng) {
      Batch b = offline.next(manager, rng);
      List<int[]> rows = new ArrayList<>(b.sequences().size());
      for (int[] row : b.sequences()) {
        int promptLength = promptLength(row, equalsId);
        int[] r = new int[promptLength + newTokens];
        System.arraycopy(row, 0, r, 0, promptLength);
        rows.add(r);
      }
      return Batch.of(b.inputs(), b.tokens(), b::loss, rows);
    }
  }

  /** Tokens up to and including the newline after the first {@code '='}. */
  static int promptLength(int[] row, int equalsId) {
    for (int i = 0; i < row.length; i++) {
      if (row[i] == equalsId) {
        return Math.min(row.length, i + 2);
      }
    }
    throw new IllegalArgumentException("a row without '=': no problem to take a prompt from");
  }

  /**
   * Counts the teacher-labelled positions the loss reads ({@link BatchSource.Batch#tokens()}: on an
   * offline batch every labelled position, on an on-policy batch the sampled positions): the
   * teacher-token budget each method spends.
   */
  static final class Counted implements BatchSource {
    private final BatchSource inner;
    private long positions;

    Counted(BatchSource inner) {
      this.inner = inner;
    }

    @Override
    public Batch next(NDManager manager, Random rng) {
      Batch b = inner.next(manager, rng);
      positions += b.tokens();
      return b;
    }

    long positions() {
      return positions;
    }
  }
}
