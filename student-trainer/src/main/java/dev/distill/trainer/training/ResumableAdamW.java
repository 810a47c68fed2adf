package dev.distill.trainer.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.util.Preconditions;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.IntToDoubleFunction;

/**
 * AdamW (Loshchilov and Hutter 2019, "Decoupled Weight Decay Regularization", arXiv:1711.05101)
 * whose state can be saved and restored, so training resumes exactly. The update is DJL's own
 * {@code AdamW.update}, call for call: the same fused native {@code adamUpdate} with bias
 * correction folded into the learning rate ({@code lr * sqrt(1 - beta2^t) / (1 - beta1^t)}) and
 * decoupled weight decay; DJL's {@code AdamW} keeps its moments and step counts private, hence this
 * class.
 *
 * <p>State per parameter: first and second moments m, v (created as zeros on the first update) and
 * the 1-based update count t, which also drives the learning-rate schedule. DJL identifies
 * parameters by a random id per process, so {@link #save} and {@link #load} take the id -> name map
 * of the block and store the state by parameter name.
 */
public final class ResumableAdamW extends Optimizer {
  private static final int MAGIC = 0x41644D57; // "AdMW"

  private final IntToDoubleFunction learningRate;
  private final Map<String, Float> special;
  private final float beta1;
  private final float beta2;
  private final float epsilon;
  private final Map<String, NDArray> means = new HashMap<>();
  private final Map<String, NDArray> variances = new HashMap<>();
  private final Map<String, Integer> counts = new HashMap<>();

  /**
   * @param learningRate the learning rate at a 1-based update count
   * @param weightDecay decoupled weight decay
   */
  public ResumableAdamW(
      IntToDoubleFunction learningRate,
      float weightDecay,
      float beta1,
      float beta2,
      float epsilon) {
    this(learningRate, weightDecay, beta1, beta2, epsilon, Map.of());
  }

  /**
   * @param special parameter id -> learning-rate multiplier; these parameters also get no weight
   *     decay (quantiser bit depths and exponents)
   */
  public ResumableAdamW(
      IntToDoubleFunction learningRate,
      float weightDecay,
      float beta1,
      float beta2,
      float epsilon,
      Map<String, Float> special) {
    super(new Builder().optWeightDecays(weightDecay));
    this.special = Map.copyOf(special);
    this.learningRate = learningRate;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.epsilon = epsilon;
  }

  private static final class Builder extends OptimizerBuilder<Builder> {
    @Override
    protected Builder self() {
      return this;
    }
  }

  @Override
  public void update(String parameterId, NDArray weight, NDArray grad) {
    int t = counts.merge(parameterId, 1, Integer::sum);
    double c1 = 1.0 - Math.pow(beta1, t);
    double c2 = 1.0 - Math.pow(beta2, t);
    Float scale = special.get(parameterId);
    float lr = (float) (learningRate.applyAsDouble(t) * (scale == null ? 1f : scale));
    float lrCorrected = (float) (lr * Math.sqrt(c2) / c1);
    float wd = scale == null ? getWeightDecay() : 0f;
    Preconditions.checkArgument(
        Float.isFinite(lr) && Float.isFinite(wd),
        "learning rate or weight decay is nan or infinite");
    NDArray m = means.computeIfAbsent(parameterId, k -> weight.zerosLike());
    NDArray v = variances.computeIfAbsent(parameterId, k -> weight.zerosLike());
    weight
        .getNDArrayInternal()
        .adamUpdate(
            new NDList(weight, grad, m, v),
            new NDList(weight),
            lr,
            lrCorrected,
            wd,
            rescaleGrad,
            clipGrad,
            beta1,
            beta2,
            epsilon,
            true,
            true);
  }

  /** The largest update count of any parameter (the number of optimiser steps taken). */
  public int steps() {
    return counts.values().stream().mapToInt(Integer::intValue).max().orElse(0);
  }

  /**
   * Writes every parameter's count, m and v, by name (sorted), to {@code out}.
   *
   * @param names parameter id -> name
   */
  public void save(DataOutputStream out, Map<String, String> names) throws IOException {
    Map<String, String> byName = new TreeMap<>();
    for (Map.Entry<String, String> e : names.entrySet()) {
      if (counts.containsKey(e.getKey())) {
        byName.put(e.getValue(), e.getKey());
      }
    }
    out.writeInt(MAGIC);
    out.writeInt(byName.size());
    for (Map.Entry<String, String> e : byName.entrySet()) {
      String id = e.getValue();
      out.writeUTF(e.getKey());
      out.writeInt(counts.get(id));
      writeArray(out, means.get(id));
      writeArray(out, variances.get(id));
    }
  }

  /**
   * Replaces the state with one written by {@link #save}; arrays are created in {@code manager}.
   *
   * @param names parameter id -> name of the block being trained
   * @throws IOException when the stream is not optimiser state or names an unknown parameter
   */
  public void load(DataInputStream in, Map<String, String> names, NDManager manager)
      throws IOException {
    Map<String, String> idByName = new HashMap<>();
    names.forEach((id, name) -> idByName.put(name, id));
    if (in.readInt() != MAGIC) {
      throw new IOException("not AdamW optimiser state (bad magic)");
    }
    int n = in.readInt();
    clear();
    for (int i = 0; i < n; i++) {
      String name = in.readUTF();
      String id = idByName.get(name);
      if (id == null) {
        throw new IOException("optimiser state for unknown parameter " + name);
      }
      counts.put(id, in.readInt());
      means.put(id, readArray(in, manager));
      variances.put(id, readArray(in, manager));
    }
  }

  private void clear() {
    means.values().forEach(NDArray::close);
    variances.values().forEach(NDArray::close);
    means.clear();
    variances.clear();
    counts.clear();
  }

  private static void writeArray(DataOutputStream out, NDArray a) throws IOException {
    byte[] bytes = a.encode();
    out.writeInt(bytes.length);
    out.write(bytes);
  }

  private static NDArray readArray(DataInputStream in, NDManager manager) throws IOException {
    int len = in.readInt();
    if (len < 0 || len > (1 << 30)) {
      throw new IOException("bad array length " + len);
    }
    byte[] bytes = new byte[len];
    in.readFully(bytes);
    return NDArray.decode(manager, bytes);
  }
}
