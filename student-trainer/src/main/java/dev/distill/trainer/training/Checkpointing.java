package dev.distill.trainer.training;

import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * Checkpointing of one training run (see {@link dev.distill.trainer.io.TrainingCheckpoints}).
 *
 * @param dir root folder of the run's checkpoints; null disables checkpointing
 * @param every steps between checkpoints (> 0 when dir is set)
 * @param keep how many of the newest checkpoints to keep (>= 2 leaves a fallback when the newest is
 *     damaged)
 * @param resume continue from the newest valid checkpoint under dir, when there is one
 * @param metadata written into every checkpoint (loss conventions, model kind)
 */
public record Checkpointing(
    Path dir, int every, int keep, boolean resume, Map<String, String> metadata) {
  public Checkpointing {
    metadata = Map.copyOf(Objects.requireNonNull(metadata, "metadata"));
    if (dir != null && every < 1) {
      throw new IllegalArgumentException("checkpoint every must be >= 1, got " + every);
    }
    if (dir != null && keep < 1) {
      throw new IllegalArgumentException("checkpoint keep must be >= 1, got " + keep);
    }
    if (dir == null && resume) {
      throw new IllegalArgumentException("resume needs a checkpoint folder");
    }
  }

  /** No checkpoints. */
  public static Checkpointing none() {
    return new Checkpointing(null, 0, 0, false, Map.of());
  }

  public boolean enabled() {
    return dir != null;
  }
}
