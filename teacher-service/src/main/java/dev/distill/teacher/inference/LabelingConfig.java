package dev.distill.teacher.inference;

/**
 * How soft labels are extracted.
 *
 * @param topK ids kept per position (the rest is the tail mass)
 * @param temperature T: the teacher's logits are divided by T before the softmax
 * @param batchSize sequences per forward pass
 */
public record LabelingConfig(int topK, float temperature, int batchSize) {
  public LabelingConfig {
    if (topK < 1 || topK > 1024) {
      throw new IllegalArgumentException("topK must be in [1, 1024], got " + topK);
    }
    if (!(temperature > 0f) || !Float.isFinite(temperature)) {
      throw new IllegalArgumentException("temperature must be finite and > 0, got " + temperature);
    }
    if (batchSize < 1) {
      throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
    }
  }
}
