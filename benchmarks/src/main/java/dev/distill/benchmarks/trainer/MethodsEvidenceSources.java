package dev.distill.benchmarks.trainer;

import ai.djl.ndarray.NDManager;
import dev.distill.trainer.training.BatchSource;
import java.util.Random;

/** Batch-source wrappers of {@link MethodsEvidence}'s arithmetic part. */
final class MethodsEvidenceSources {
  private MethodsEvidenceSources() {}

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
