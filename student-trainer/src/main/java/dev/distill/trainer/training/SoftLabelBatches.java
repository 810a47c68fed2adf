package dev.distill.trainer.training;

import ai.djl.ndarray.NDManager;
import dev.distill.trainer.data.Example;
import dev.distill.trainer.loss.DistillationLoss;
import java.util.List;
import java.util.Random;

/**
 * Distillation batches: examples drawn at random (with replacement, seeded) from curated data,
 * scored with a {@link DistillationLoss}. With alpha = 0 this is plain hard-label training on the
 * same tokens, which is how the baseline student is trained.
 */
public final class SoftLabelBatches implements BatchSource {
  private final List<Example> examples;
  private final int batchSize;
  private final DistillationLoss loss;

  public SoftLabelBatches(List<Example> examples, int batchSize, DistillationLoss loss) {
    if (examples.isEmpty()) {
      throw new IllegalArgumentException("no examples to train on");
    }
    this.examples = examples;
    this.batchSize = batchSize;
    this.loss = loss;
  }

  @Override
  public Batch next(NDManager manager, Random rng) {
    return DistillationBatches.next(
        manager, batchSize, () -> examples.get(rng.nextInt(examples.size())), loss);
  }
}
