package dev.distill.trainer.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Random;
import java.util.function.UnaryOperator;

/** Produces training batches and the loss of the model's logits on them. */
public interface BatchSource {
  /** A batch on {@code manager}. */
  Batch next(NDManager manager, Random rng);

  /**
   * Where the next batch comes from, for sources that read a stream in order instead of drawing
   * with {@code rng} (saved in checkpoints); null for sources driven by {@code rng} alone.
   */
  default String cursor() {
    return null;
  }

  /** Continues from a {@link #cursor()} saved earlier. */
  default void seek(String cursor) {
    throw new UnsupportedOperationException(
        getClass().getSimpleName() + " is driven by the rng and has no cursor to seek to");
  }

  /** A batch and how to score logits on it. */
  interface Batch {
    NDArray inputs();

    /** The loss to minimise, a scalar. */
    NDArray loss(NDArray logits);

    /** Labelled positions in the batch. */
    long tokens();

    /**
     * The token ids of each row (unpadded, {@code positions + 1} each), for sources that know them
     * (on-policy batches take their prompts from these); null when the source does not.
     */
    default java.util.List<int[]> sequences() {
      return null;
    }

    /**
     * A batch of {@code inputs} with {@code tokens} labelled positions, whose logits {@code loss}
     * scores: what every source builds once its arrays are on the device.
     */
    static Batch of(NDArray inputs, long tokens, UnaryOperator<NDArray> loss) {
      return of(inputs, tokens, loss, null);
    }

    /** As {@link #of(NDArray, long, UnaryOperator)}, with the rows' token ids. */
    static Batch of(
        NDArray inputs, long tokens, UnaryOperator<NDArray> loss, java.util.List<int[]> rows) {
      return new Batch() {
        @Override
        public java.util.List<int[]> sequences() {
          return rows;
        }

        @Override
        public NDArray inputs() {
          return inputs;
        }

        @Override
        public NDArray loss(NDArray logits) {
          return loss.apply(logits);
        }

        @Override
        public long tokens() {
          return tokens;
        }
      };
    }
  }
}
