package dev.distill.trainer.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.util.Preconditions;
import dev.distill.models.autograd.Scalars;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
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
 *
 * <p>Two ways to step: {@link #update} per parameter (DJL's {@code Trainer.step()}, one native
 * {@code adamUpdate} per parameter, about 15 native ops each), and {@link #gather} + {@link
 * #update(Gradients)}, the multi-tensor form (PyTorch's {@code foreach} AdamW): the gradients of
 * every parameter with the same learning-rate multiplier concatenated into one flat array, clipped
 * and applied with a dozen native ops per group, plus a reshape, a subtraction and a gradient reset
 * per parameter. The moments then live in one flat array per group, and the per-parameter moments
 * that {@link #save} writes are views into it. Same formula either way (rounding differs in the
 * last bits: the decay and the Adam step are summed before they are subtracted).
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

  /** Flat moments per learning-rate group of the multi-tensor path, keyed by the group's ids. */
  private final Map<List<String>, NDArray[]> flat = new HashMap<>();

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

  /**
   * The gradients of {@code weights} (parameter {@code ids[i]} is {@code weights[i]}) concatenated
   * into one flat array per learning-rate group, attached to {@code manager} (the step's).
   */
  public Gradients gather(List<String> ids, List<NDArray> weights, NDManager manager) {
    Preconditions.checkArgument(ids.size() == weights.size(), "one id per weight");
    Map<Float, List<Integer>> groups = new LinkedHashMap<>();
    for (int i = 0; i < ids.size(); i++) {
      Float scale = special.get(ids.get(i));
      groups.computeIfAbsent(scale == null ? Float.NaN : scale, k -> new ArrayList<>()).add(i);
    }
    List<Group> out = new ArrayList<>();
    for (Map.Entry<Float, List<Integer>> e : groups.entrySet()) {
      List<String> gIds = new ArrayList<>();
      List<NDArray> gWeights = new ArrayList<>();
      NDList flatGrads = new NDList();
      for (int i : e.getValue()) {
        gIds.add(ids.get(i));
        gWeights.add(weights.get(i));
        NDArray g = weights.get(i).getGradient();
        g.attach(manager);
        flatGrads.add(g.reshape(-1));
      }
      NDArray grad = flatGrads.size() == 1 ? flatGrads.get(0) : NDArrays.concat(flatGrads);
      out.add(new Group(List.copyOf(gIds), gWeights, grad, e.getKey()));
    }
    return new Gradients(out);
  }

  private record Group(List<String> ids, List<NDArray> weights, NDArray grad, float scale) {}

  /** A step's gradients, flat per group: clip them, then {@link #update(Gradients)}. */
  public static final class Gradients {
    private final List<Group> groups;

    private Gradients(List<Group> groups) {
      this.groups = groups;
    }

    /**
     * The L2 norm over every gradient; when {@code maxNorm > 0} and the norm exceeds it, scales the
     * (flat) gradients by {@code maxNorm / (norm + 1e-6)} (torch.nn.utils.clip_grad_norm_). One
     * read back from the engine.
     */
    public double clipGlobalNorm(float maxNorm) {
      NDList squares = new NDList();
      for (Group g : groups) {
        squares.add(g.grad().square().sum());
      }
      NDArray total = squares.size() == 1 ? squares.get(0) : NDArrays.stack(squares).sum();
      double norm = Math.sqrt(total.getFloat());
      if (maxNorm > 0 && norm > maxNorm) {
        float scale = (float) (maxNorm / (norm + 1e-6));
        for (Group g : groups) {
          Scalars.muli(g.grad(), scale);
        }
      }
      return norm;
    }

    /** Resets every parameter's gradient to 0 (after an update, or for a skipped step). */
    public void zeroParameterGradients() {
      for (Group g : groups) {
        for (NDArray w : g.weights()) {
          JniUtils.zeroGrad((PtNDArray) w);
        }
      }
    }
  }

  /**
   * One AdamW step over every parameter of {@code gradients} (multi-tensor form), the same formula
   * as {@link #update(String, NDArray, NDArray)}: {@code m = b1 m + (1 - b1) g}, {@code v = b2 v +
   * (1 - b2) g^2}, {@code w -= lr wd w + lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)}. Does
   * not reset the gradients ({@link Gradients#zeroParameterGradients()}).
   */
  public void update(Gradients gradients) {
    // in-place updates of leaves that require gradients: only with autograd off, as DJL's native
    // adamUpdate does
    boolean gradMode = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try {
      for (Group g : gradients.groups) {
        updateGroup(g);
      }
    } finally {
      JniUtils.setGradMode(gradMode);
    }
  }

  private void updateGroup(Group g) {
    int t = 0;
    for (String id : g.ids()) {
      int n = counts.merge(id, 1, Integer::sum);
      if (t != 0 && n != t) {
        throw new IllegalStateException(
            "parameters of one group have different update counts (" + t + ", " + n + ")");
      }
      t = n;
    }
    double c1 = 1.0 - Math.pow(beta1, t);
    double c2 = 1.0 - Math.pow(beta2, t);
    boolean scaled = !Float.isNaN(g.scale());
    float lr = (float) (learningRate.applyAsDouble(t) * (scaled ? g.scale() : 1f));
    float lrCorrected = (float) (lr * Math.sqrt(c2) / c1);
    float wd = scaled ? 0f : getWeightDecay();
    Preconditions.checkArgument(
        Float.isFinite(lr) && Float.isFinite(wd),
        "learning rate or weight decay is nan or infinite");
    NDArray[] mv = flatMoments(g);
    NDArray grad = g.grad();
    NDManager step = grad.getManager();
    NDArray m = mv[0];
    NDArray v = mv[1];
    Scalars.muli(m, beta1).addi(Scalars.mul(grad, 1f - beta1));
    Scalars.muli(v, beta2).addi(Scalars.muli(grad.square(), 1f - beta2));
    NDArray denominator = onStep(v.sqrt(), step).addi(Scalars.of(grad, epsilon));
    NDArray delta = onStep(Scalars.mul(m, lrCorrected), step).divi(denominator);
    List<NDArray> weights = g.weights();
    if (wd != 0f) {
      // decoupled weight decay (Loshchilov and Hutter 2019): lr wd w, from the weights before
      // this step, as DJL's adamUpdate does
      NDList flatWeights = new NDList();
      for (NDArray w : weights) {
        flatWeights.add(onStep(w.reshape(-1), step));
      }
      NDArray w =
          flatWeights.size() == 1 ? flatWeights.get(0) : onStep(NDArrays.concat(flatWeights), step);
      delta.addi(Scalars.mul(w, lr * wd));
    }
    long[] splits = new long[weights.size() - 1];
    long at = 0;
    for (int i = 0; i < splits.length; i++) {
      at += weights.get(i).getShape().size();
      splits[i] = at;
    }
    NDList pieces = splits.length == 0 ? new NDList(delta) : delta.split(splits);
    for (int i = 0; i < weights.size(); i++) {
      NDArray w = weights.get(i);
      w.subi(pieces.get(i).reshape(w.getShape()));
    }
  }

  /** {@code a}, attached to {@code manager}: freed with the step. */
  private static NDArray onStep(NDArray a, NDManager manager) {
    a.attach(manager);
    return a;
  }

  /**
   * The group's flat m and v, made on first use from the per-parameter moments (zeros where none),
   * which then become views into them (so {@link #save} and {@link #update(String, NDArray,
   * NDArray)} see the same state).
   */
  private NDArray[] flatMoments(Group g) {
    NDArray[] mv = flat.get(g.ids());
    if (mv != null) {
      return mv;
    }
    NDManager owner = g.weights().get(0).getManager();
    mv = new NDArray[2];
    for (int k = 0; k < 2; k++) {
      Map<String, NDArray> per = k == 0 ? means : variances;
      NDArray all;
      try (NDManager scratch = owner.newSubManager()) {
        NDList parts = new NDList();
        for (int i = 0; i < g.ids().size(); i++) {
          NDArray a = per.get(g.ids().get(i));
          NDArray part = a == null ? scratch.zeros(g.weights().get(i).getShape()) : a.duplicate();
          part.attach(scratch);
          parts.add(part.reshape(-1));
        }
        all = parts.size() == 1 ? parts.get(0).duplicate() : NDArrays.concat(parts);
        all.attach(owner);
      }
      long at = 0;
      for (int i = 0; i < g.ids().size(); i++) {
        Shape shape = g.weights().get(i).getShape();
        NDArray view = all.get(new NDIndex("{}:{}", at, at + shape.size())).reshape(shape);
        view.attach(owner);
        NDArray old = per.put(g.ids().get(i), view);
        if (old != null) {
          old.close();
        }
        at += shape.size();
      }
      mv[k] = all;
    }
    flat.put(g.ids(), mv);
    return mv;
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
    flat.values().forEach(mv -> new NDList(mv).close());
    flat.clear();
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
