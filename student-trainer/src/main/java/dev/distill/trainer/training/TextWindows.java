package dev.distill.trainer.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.distill.trainer.loss.HardLabelCrossEntropy;
import java.util.Random;
import java.util.function.IntUnaryOperator;

/**
 * Language-model batches from one long token stream: random windows of {@code blockSize + 1}
 * tokens, inputs the first {@code blockSize}, targets shifted by one (nanoGPT's get_batch).
 */
public final class TextWindows implements BatchSource {
  private final int[] tokens;
  private final int blockSize;
  private final int batchSize;

  public TextWindows(int[] tokens, int blockSize, int batchSize) {
    if (tokens.length < blockSize + 2) {
      throw new IllegalArgumentException(
          "need more than " + (blockSize + 1) + " tokens, got " + tokens.length);
    }
    this.tokens = tokens;
    this.blockSize = blockSize;
    this.batchSize = batchSize;
  }

  @Override
  public Batch next(NDManager manager, Random rng) {
    return windows(
        manager, tokens, blockSize, batchSize, b -> rng.nextInt(tokens.length - blockSize - 1));
  }

  /**
   * {@code batchSize} windows of {@code tokens}, the b-th starting at {@code start(b)}: inputs and
   * their next tokens, scored by cross-entropy on every position.
   */
  static Batch windows(
      NDManager manager, int[] tokens, int blockSize, int batchSize, IntUnaryOperator start) {
    long[] x = new long[batchSize * blockSize];
    long[] y = new long[batchSize * blockSize];
    for (int b = 0; b < batchSize; b++) {
      int from = start.applyAsInt(b);
      for (int t = 0; t < blockSize; t++) {
        x[b * blockSize + t] = tokens[from + t];
        y[b * blockSize + t] = tokens[from + t + 1];
      }
    }
    Shape shape = new Shape(batchSize, blockSize);
    NDArray inputs = manager.create(x, shape);
    NDArray targets = manager.create(y, shape);
    NDArray mask = manager.ones(shape);
    return Batch.of(
        inputs,
        (long) batchSize * blockSize,
        logits -> HardLabelCrossEntropy.loss(logits, targets, mask));
  }
}
