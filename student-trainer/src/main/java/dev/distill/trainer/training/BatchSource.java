package dev.distill.trainer.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Random;

/** Produces training batches and the loss of the model's logits on them. */
public interface BatchSource {
  /** A batch on {@code manager}. */
  Batch next(NDManager manager, Random rng);

  /** A batch and how to score logits on it. */
  interface Batch {
    NDArray inputs();

    /** The loss to minimise, a scalar. */
    NDArray loss(NDArray logits);

    /** Labelled positions in the batch. */
    long tokens();
  }
}
