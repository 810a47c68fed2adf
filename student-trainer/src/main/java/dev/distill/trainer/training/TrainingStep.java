package dev.distill.trainer.training;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.util.Pair;
import dev.distill.models.autograd.Scalars;
import dev.distill.models.gpt.LanguageModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * The pieces of one optimisation step shared by {@link TrainingLoop} and the data-parallel trainer
 * ({@code dev.distill.trainer.distributed.DataParallelStudentTrainer}), which inserts its gradient
 * all-reduce between {@link #forwardBackward} and {@link #clipGlobalNorm}: the optimiser, the
 * forward/backward pass and global-norm clipping, so the two cannot drift apart.
 */
public final class TrainingStep {
  private TrainingStep() {}

  /**
   * AdamW with the warmup + cosine schedule of {@code config} and nanoGPT's betas (0.9, 0.99);
   * {@code lrScale} multiplies the learning rate of the parameter ids it names.
   */
  public static ResumableAdamW optimizer(TrainConfig config, Map<String, Float> lrScale) {
    return new ResumableAdamW(
        config::learningRateAt, config.weightDecay(), 0.9f, 0.99f, 1e-8f, lrScale);
  }

  /** A CPU training config with {@code optimizer}. */
  public static DefaultTrainingConfig trainingConfig(ResumableAdamW optimizer) {
    // The loss here is unused: batches score their own logits. DJL requires one in the config.
    return new DefaultTrainingConfig(Loss.l2Loss())
        .optOptimizer(optimizer)
        .optDevices(new Device[] {Device.cpu()});
  }

  /** The model's parameter arrays, in {@code getParameters()} order. */
  public static List<NDArray> parameters(LanguageModel model) {
    List<NDArray> params = new ArrayList<>();
    for (Pair<String, Parameter> p : model.block().getParameters()) {
      params.add(p.getValue().getArray());
    }
    return params;
  }

  /**
   * Forward pass of {@code inputs}, the scalar loss {@code loss} makes of the logits, backward pass
   * into the parameters' gradients; returns the loss value.
   */
  public static float forwardBackward(
      Trainer trainer, NDArray inputs, UnaryOperator<NDArray> loss) {
    if (inputs instanceof PtNDArray) {
      return forwardBackwardOnThisThread(trainer, inputs, loss);
    }
    try (GradientCollector gc = trainer.newGradientCollector()) {
      NDArray logits = trainer.forward(new NDList(inputs)).singletonOrThrow();
      NDArray l = loss.apply(logits);
      gc.backward(l);
      return l.getFloat();
    }
  }

  /**
   * {@link #forwardBackward} on the PyTorch engine, without DJL's {@code PtGradientCollector}: that
   * collector allows one collecting instance per JVM (a static flag; a second one throws "A
   * PtGradientCollector is already collecting"), which would serialise the forward and backward
   * passes of students trained at the same time on separate threads (issue 13: the demo trains a
   * workload's two students concurrently, one intra-op thread each). What the collector does is
   * kept: gradient recording on for this pass (libtorch's {@code GradMode} is thread-local, so
   * other threads are unaffected), the backward pass from a gradient of ones into the parameters'
   * {@code .grad} ({@code JniUtils.backward}, as the collector calls it), the previous mode
   * restored. libtorch runs a CPU backward pass on the calling thread, so passes on different
   * threads with separate graphs do not share state.
   */
  private static float forwardBackwardOnThisThread(
      Trainer trainer, NDArray inputs, UnaryOperator<NDArray> loss) {
    boolean wasRecording = JniUtils.isGradMode();
    JniUtils.setGradMode(true);
    try {
      NDArray logits = trainer.forward(new NDList(inputs)).singletonOrThrow();
      NDArray l = loss.apply(logits);
      try (NDArray ones = l.onesLike()) {
        JniUtils.backward((PtNDArray) l, (PtNDArray) ones, false, false);
      }
      return l.getFloat();
    } finally {
      JniUtils.setGradMode(wasRecording);
    }
  }

  /**
   * Scales all gradients by {@code min(1, maxNorm / ||g||)} where ||g|| is the L2 norm over every
   * parameter (torch.nn.utils.clip_grad_norm_). DJL's optClipGrad clips element-wise instead. A
   * {@code maxNorm <= 0} disables clipping. Returns ||g|| before clipping (NaN when disabled).
   */
  public static double clipGlobalNorm(List<NDArray> params, float maxNorm) {
    if (maxNorm <= 0) {
      return Double.NaN;
    }
    double norm = Math.sqrt(squaredNorm(params));
    if (norm > maxNorm) {
      float scale = (float) (maxNorm / (norm + 1e-6));
      for (NDArray p : params) {
        try (NDArray g = p.getGradient()) {
          Scalars.muli(g, scale);
        }
      }
    }
    return norm;
  }

  /**
   * Whether the step's update may be applied: the loss and every gradient are finite. {@code
   * clippedNorm} is what {@link #clipGlobalNorm} returned (NaN when clipping is disabled, in which
   * case the norm is computed here). Mixed-precision trainers skip such steps the same way
   * (PyTorch's GradScaler); one NaN update would otherwise make every parameter NaN for the rest of
   * the run.
   */
  public static boolean finite(
      float loss, double clippedNorm, List<NDArray> params, float maxNorm) {
    if (!Float.isFinite(loss)) {
      return false;
    }
    double norm = maxNorm > 0 ? clippedNorm : Math.sqrt(squaredNorm(params));
    return Double.isFinite(norm);
  }

  /** Sets every parameter's gradient to 0 in place (a skipped step leaves nothing behind). */
  public static void zeroGradients(List<NDArray> params) {
    for (NDArray p : params) {
      try (NDArray g = p.getGradient()) {
        g.set(new ai.djl.ndarray.index.NDIndex("..."), 0f);
      }
    }
  }

  private static double squaredNorm(List<NDArray> params) {
    double sq = 0;
    for (NDArray p : params) {
      try (NDArray g = p.getGradient();
          NDArray s = g.square();
          NDArray t = s.sum()) {
        sq += t.getFloat();
      }
    }
    return sq;
  }
}
