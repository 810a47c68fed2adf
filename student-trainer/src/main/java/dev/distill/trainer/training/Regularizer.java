package dev.distill.trainer.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.distill.models.gpt.LanguageModel;

/**
 * A hook into every training step: a term added to the loss, computed from the model's parameters,
 * and a chance to edit the gradients before clipping and the optimiser step.
 */
public interface Regularizer {
  /**
   * The scalar penalty for this step, attached to {@code stepManager}, differentiable with respect
   * to the model's parameters; null adds nothing.
   *
   * @param step the 0-based training step
   */
  NDArray penalty(LanguageModel model, NDManager stepManager, int step);

  /** Called after backward, before gradient clipping and the optimiser step. */
  default void afterBackward(LanguageModel model) {}
}
