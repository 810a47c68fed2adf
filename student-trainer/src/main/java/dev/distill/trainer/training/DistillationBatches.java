package dev.distill.trainer.training;

import ai.djl.ndarray.NDManager;
import dev.distill.trainer.data.Example;
import dev.distill.trainer.data.KdBatch;
import dev.distill.trainer.loss.DistillationLoss;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * The one path from curated examples to a scored batch, shared by {@link SoftLabelBatches} (drawn
 * at random from memory) and {@link StreamingBatches} (read in order from a stream): the sources
 * differ only in where the next example comes from.
 */
final class DistillationBatches {
  private DistillationBatches() {}

  /** {@code batchSize} examples from {@code next}, on {@code manager}, scored by {@code loss}. */
  static BatchSource.Batch next(
      NDManager manager, int batchSize, Supplier<Example> next, DistillationLoss loss) {
    List<Example> picked = new ArrayList<>(batchSize);
    for (int i = 0; i < batchSize; i++) {
      picked.add(next.get());
    }
    KdBatch batch = KdBatch.of(manager, picked);
    return BatchSource.Batch.of(
        batch.inputs(),
        batch.tokenCount(),
        logits -> loss.total(logits, batch),
        picked.stream().map(Example::tokens).toList());
  }
}
