package dev.distill.trainer.training;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.util.Pair;
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
    try (GradientCollector gc = trainer.newGradientCollector()) {
      NDArray logits = trainer.forward(new NDList(inputs)).singletonOrThrow();
      NDArray l = loss.apply(logits);
      gc.backward(l);
      return l.getFloat();
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
    double sq = 0;
    for (NDArray p : params) {
      try (NDArray g = p.getGradient();
          NDArray s = g.square();
          NDArray t = s.sum()) {
        sq += t.getFloat();
      }
    }
    double norm = Math.sqrt(sq);
    if (norm > maxNorm) {
      float scale = (float) (maxNorm / (norm + 1e-6));
      for (NDArray p : params) {
        try (NDArray g = p.getGradient()) {
          g.muli(scale);
        }
      }
    }
    return norm;
  }
}
