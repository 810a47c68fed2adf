package dev.distill.trainer.training;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.util.Pair;
import dev.distill.models.gpt.LanguageModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The training loop shared by teacher pre-training and student distillation: AdamW with the
 * schedule of {@link TrainConfig}, global-norm clipping, periodic validation.
 *
 * <p>Every step allocates its arrays in a child manager that is closed at the end of the step, so
 * memory stays flat over the run.
 */
public final class TrainingLoop {
  private TrainingLoop() {}

  public static TrainResult run(
      LanguageModel model,
      BatchSource train,
      BatchSource val,
      TrainConfig config,
      ProgressListener listener) {
    Optimizer optimizer =
        Optimizer.adamW()
            .optLearningRateTracker((String id, int n) -> config.learningRateAt(n))
            .optWeightDecays(config.weightDecay())
            .optBeta1(0.9f)
            .optBeta2(0.99f)
            .build();
    // The loss here is unused: batches score their own logits. DJL requires one in the config.
    DefaultTrainingConfig tc =
        new DefaultTrainingConfig(Loss.l2Loss())
            .optOptimizer(optimizer)
            .optDevices(new Device[] {Device.cpu()});
    Random trainRng = new Random(config.seed());
    List<TrainResult.CurvePoint> curve = new ArrayList<>();
    double lastVal = Double.NaN;
    long tokens = 0;
    long start = System.nanoTime();
    try (Trainer trainer = model.model().newTrainer(tc)) {
      List<NDArray> params = new ArrayList<>();
      for (Pair<String, Parameter> p : model.block().getParameters()) {
        params.add(p.getValue().getArray());
      }
      double trainLoss = Double.NaN;
      for (int step = 0; step < config.steps(); step++) {
        try (NDManager stepManager = trainer.getManager().newSubManager()) {
          BatchSource.Batch batch = train.next(stepManager, trainRng);
          try (GradientCollector gc = trainer.newGradientCollector()) {
            NDArray logits = trainer.forward(new NDList(batch.inputs())).singletonOrThrow();
            NDArray loss = batch.loss(logits);
            gc.backward(loss);
            trainLoss = loss.getFloat();
          }
          if (config.gradClipNorm() > 0) {
            clipGlobalNorm(params, config.gradClipNorm());
          }
          trainer.step();
          tokens += batch.tokens();
        }
        boolean last = step == config.steps() - 1;
        if (last || (config.evalEvery() > 0 && (step + 1) % config.evalEvery() == 0)) {
          lastVal = evaluate(trainer, val, config);
          curve.add(new TrainResult.CurvePoint(step + 1, trainLoss, lastVal));
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        listener.onStep(step + 1, config.steps(), trainLoss, lastVal, tokens / seconds);
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    return new TrainResult(curve, lastVal, tokens / seconds, seconds);
  }

  /** Mean loss over {@code evalBatches} batches from a fixed seed, without recording gradients. */
  public static double evaluate(Trainer trainer, BatchSource val, TrainConfig config) {
    Random rng = new Random(config.seed() ^ 0x5EEDL);
    double sum = 0;
    for (int i = 0; i < config.evalBatches(); i++) {
      try (NDManager m = trainer.getManager().newSubManager()) {
        BatchSource.Batch batch = val.next(m, rng);
        NDArray logits = trainer.evaluate(new NDList(batch.inputs())).singletonOrThrow();
        sum += batch.loss(logits).getFloat();
      }
    }
    return sum / config.evalBatches();
  }

  /**
   * Scales all gradients by {@code min(1, maxNorm / ||g||)} where ||g|| is the L2 norm over every
   * parameter (torch.nn.utils.clip_grad_norm_). DJL's optClipGrad clips element-wise instead.
   */
  static double clipGlobalNorm(List<NDArray> params, float maxNorm) {
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
