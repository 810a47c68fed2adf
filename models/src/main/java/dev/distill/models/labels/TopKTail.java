package dev.distill.models.labels;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import dev.distill.models.autograd.Scalars;

/**
 * The teacher's sparse soft labels of a batch of positions, computed one way for every caller: the
 * offline labeller ({@code teacher-service}'s {@code SoftLabeler}) and the on-policy trainer
 * ({@code student-trainer}'s in-process teacher) both call {@link #of}, so on-policy targets are
 * exactly the offline ones.
 *
 * <pre>
 *   p        = softmax(z / T) over the whole vocabulary (on the device, float32)
 *   top-k    = the k largest p, ids and probabilities, descending
 *   tail     = max(0, 1 - sum of the top-k p)   (summed in double on the host)
 *   entropy  = -sum p log p over the whole vocabulary
 * </pre>
 *
 * Only {@code k + 2} numbers per position cross to the host, whatever the vocabulary size.
 *
 * @param rows B
 * @param positions L, positions per row
 * @param k ids per position
 * @param ids (B * L * k) row-major, each position's ids by descending probability
 * @param probs (B * L * k) the matching probabilities at T
 * @param tails (B * L) the mass outside the top-k
 * @param entropy (B * L) the full distribution's entropy in nats
 */
public record TopKTail(
    int rows, int positions, int k, int[] ids, float[] probs, float[] tails, float[] entropy) {

  /**
   * The top-k + tail labels of logits {@code (B, L, V)} at {@code temperature}.
   *
   * @throws IllegalArgumentException for logits that are not 3-d, k outside [1, V] or a temperature
   *     that is not finite and > 0
   */
  public static TopKTail of(NDArray logits, float temperature, int k) {
    long[] shape = logits.getShape().getShape();
    if (shape.length != 3) {
      throw new IllegalArgumentException("logits must be (B, L, V), got " + logits.getShape());
    }
    if (k < 1 || k > shape[2]) {
      throw new IllegalArgumentException("k must be in [1, " + shape[2] + "], got " + k);
    }
    if (!(temperature > 0f) || Float.isInfinite(temperature)) {
      throw new IllegalArgumentException("temperature must be finite and > 0, got " + temperature);
    }
    int rows = Math.toIntExact(shape[0]);
    int positions = Math.toIntExact(shape[1]);
    NDArray logp = Scalars.div(logits, temperature).logSoftmax(-1);
    NDArray p = logp.exp();
    float[] entropy = p.mul(logp).sum(new int[] {-1}).neg().toFloatArray();
    NDList top = p.topK(k, -1, true, true);
    float[] topProbs = top.get(0).toFloatArray();
    long[] topIds = top.get(1).toLongArray();
    int[] ids = new int[topIds.length];
    float[] tails = new float[rows * positions];
    for (int r = 0; r < rows * positions; r++) {
      double mass = 0;
      for (int j = 0; j < k; j++) {
        ids[r * k + j] = (int) topIds[r * k + j];
        mass += topProbs[r * k + j];
      }
      tails[r] = (float) Math.max(0.0, 1.0 - mass);
    }
    return new TopKTail(rows, positions, k, ids, topProbs, tails, entropy);
  }

  /** Row {@code b}'s ids, positions x k, row-major. */
  public int[] rowIds(int b) {
    return java.util.Arrays.copyOfRange(ids, b * positions * k, (b + 1) * positions * k);
  }

  /** Row {@code b}'s probabilities, positions x k, row-major. */
  public float[] rowProbs(int b) {
    return java.util.Arrays.copyOfRange(probs, b * positions * k, (b + 1) * positions * k);
  }

  /** Row {@code b}'s tail masses, one per position. */
  public float[] rowTails(int b) {
    return java.util.Arrays.copyOfRange(tails, b * positions, (b + 1) * positions);
  }
}
