package dev.distill.trainer.compression;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import dev.distill.models.autograd.Scalars;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.nn.LinearMode;
import dev.distill.trainer.training.Regularizer;
import java.util.ArrayList;
import java.util.List;

/**
 * The size term of self-compressing networks (Cséfalvay and Imber 2023, "Self-Compressing Neural
 * Networks", arXiv:2301.13142, eq. 3-4): {@code loss = task + gamma * Q}, where Q is the average
 * number of bits per weight of the block linear layers,
 *
 * <pre>
 *   Q = sum over layers l, output channels c of max(b_lc, 0) * in_l  /  sum over layers of out_l * in_l
 * </pre>
 *
 * <p>Q is recorded at every step ({@link #history}) for the bits-per-weight-over-training chart.
 */
public final class SelfCompression implements Regularizer {
  private final float gamma;
  private final List<double[]> history = new ArrayList<>();

  /**
   * @param gamma weight of the size term, >= 0
   */
  public SelfCompression(float gamma) {
    if (!(gamma >= 0f) || Float.isInfinite(gamma)) {
      throw new IllegalArgumentException("gamma must be finite and >= 0, got " + gamma);
    }
    this.gamma = gamma;
  }

  public float gamma() {
    return gamma;
  }

  /** Q as a differentiable scalar on {@code manager}. */
  public static NDArray averageBits(LanguageModel model, NDManager manager) {
    if (model.mode() != LinearMode.SELF_COMPRESSING) {
      throw new IllegalArgumentException("model is " + model.mode() + ", not SELF_COMPRESSING");
    }
    NDArray total = manager.create(0f);
    long weights = 0;
    for (Pair<String, Parameter> p : model.block().getParameters()) {
      String name = p.getKey();
      if (!name.endsWith(".bits")) {
        continue;
      }
      String layer = name.substring(0, name.length() - ".bits".length());
      long[] shape = model.block().getParameters().get(layer + ".weight").getShape().getShape();
      weights += shape[0] * shape[1];
      NDArray bits = Scalars.maximum(manager.create(1f).mul(p.getValue().getArray()), 0f);
      total = total.add(Scalars.mul(bits.sum(), (float) shape[1]));
    }
    return Scalars.div(total, (float) weights);
  }

  @Override
  public NDArray penalty(LanguageModel model, NDManager stepManager, int step) {
    NDArray q = averageBits(model, stepManager);
    history.add(new double[] {step + 1, q.getFloat()});
    return Scalars.mul(q, gamma);
  }

  /** (step, Q) after every training step so far. */
  public List<double[]> history() {
    return List.copyOf(history);
  }
}
