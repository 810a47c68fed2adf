package dev.distill.trainer.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.distill.models.gpt.LanguageModel;

/** A term added to every training step's loss, computed from the model's parameters. */
public interface Regularizer {
  /**
   * The scalar penalty for this step, attached to {@code stepManager}, differentiable with respect
   * to the model's parameters.
   *
   * @param step the 0-based training step
   */
  NDArray penalty(LanguageModel model, NDManager stepManager, int step);
}
