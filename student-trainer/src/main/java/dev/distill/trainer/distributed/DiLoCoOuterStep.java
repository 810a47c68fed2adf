package dev.distill.trainer.distributed;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/**
 * DiLoCo's outer optimiser (Douillard et al. 2023, arXiv:2311.08105, Algorithm 1): after H inner
 * steps every worker i holds θ_i; the outer gradient is the mean parameter change
 *
 * <pre>
 *   Δ = (1/W) Σ_i (θ_start − θ_i)
 * </pre>
 *
 * and the shared parameters take one step of SGD with Nesterov momentum (the paper's outer
 * optimiser, lr 0.7, momentum 0.9), in PyTorch's formulation ({@code
 * torch.optim.SGD(nesterov=True)}, which the paper's code uses):
 *
 * <pre>
 *   v ← μ·v + Δ
 *   θ_start ← θ_start − η·(Δ + μ·v)
 * </pre>
 *
 * With η = 1 and μ = 0 this is plain parameter averaging ({@code train.spark.sync = average}). The
 * velocity v and the number of outer steps taken are the outer optimiser's state ({@link #save},
 * {@link #load}: a resumed run needs them to continue on the uninterrupted run's parameters); they
 * are the same on every worker because Δ is.
 */
final class DiLoCoOuterStep {
  private final float lr;
  private final float momentum;
  private final float[] velocity;
  private int steps;

  DiLoCoOuterStep(int size, float lr, float momentum) {
    if (!(lr > 0) || !Float.isFinite(lr)) {
      throw new IllegalArgumentException("train.spark.outer-lr must be > 0, got " + lr);
    }
    if (!(momentum >= 0 && momentum < 1)) {
      throw new IllegalArgumentException(
          "train.spark.outer-momentum must be in [0, 1), got " + momentum);
    }
    this.lr = lr;
    this.momentum = momentum;
    this.velocity = new float[size];
  }

  /**
   * Applies one outer step to {@code start} in place, given the mean outer gradient {@code delta}
   * (same length).
   */
  void apply(float[] start, float[] delta) {
    if (start.length != velocity.length || delta.length != velocity.length) {
      throw new IllegalArgumentException(
          "outer step over "
              + velocity.length
              + " parameters got arrays of "
              + start.length
              + " and "
              + delta.length);
    }
    for (int i = 0; i < start.length; i++) {
      float v = momentum * velocity[i] + delta[i];
      velocity[i] = v;
      start[i] -= lr * (delta[i] + momentum * v);
    }
    steps++;
  }

  /** Outer steps applied so far (including those before a resume). */
  int steps() {
    return steps;
  }

  /** Writes the outer step count and the velocity. */
  void save(DataOutputStream out) throws IOException {
    out.writeInt(steps);
    out.writeInt(velocity.length);
    for (float v : velocity) {
      out.writeFloat(v);
    }
  }

  /**
   * Replaces the state by one written by {@link #save}.
   *
   * @throws IOException when the saved velocity has another length (a different model)
   */
  void load(DataInputStream in) throws IOException {
    int savedSteps = in.readInt();
    int n = in.readInt();
    if (savedSteps < 0 || n != velocity.length) {
      throw new IOException(
          "outer optimiser state of "
              + n
              + " parameters after "
              + savedSteps
              + " outer steps, this model has "
              + velocity.length
              + " parameters");
    }
    for (int i = 0; i < n; i++) {
      velocity[i] = in.readFloat();
    }
    steps = savedSteps;
  }

  float[] velocity() {
    return velocity.clone();
  }
}
