package dev.distill.trainer.training;

import dev.distill.trainer.loss.DistillationLoss;
import dev.distill.trainer.loss.Divergence;

/**
 * The KD student's loss and schedule, shared by {@code distill train} in one process and the
 * data-parallel trainer ({@code distributed.DataParallelStudentTrainer}), so both runs optimise the
 * same objective with the same schedule and a data-parallel run can be compared with (and resumed
 * like) a single-process one.
 */
public final class StudentRecipe {
  private StudentRecipe() {}

  /**
   * The student's KD loss: {@code divergence} (config key {@code train.divergence}) on the top-k +
   * tail-bucket targets (no renormalisation, docs/architecture.md "Loss conventions"), no rationale
   * term.
   */
  public static DistillationLoss loss(float alpha, float temperature, Divergence divergence) {
    return new DistillationLoss(alpha, temperature, false, divergence, 0f);
  }

  /**
   * The student's schedule: warm-up over the first 5% of the steps, cosine decay to lr / 10, weight
   * decay 0.01, gradient clipping at norm 1, validation every 20% of the steps on 4 batches.
   */
  public static TrainConfig schedule(int steps, int batch, float lr, long seed) {
    return TrainConfig.builder(steps, batch, lr)
        .warmupSteps(Math.max(1, steps / 20))
        .weightDecay(0.01f)
        .evaluation(Math.max(1, steps / 5), 4)
        .seed(seed)
        .build();
  }
}
