package dev.distill.trainer.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.Trainer;
import ai.djl.util.Pair;
import dev.distill.models.autograd.Scalars;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.trainer.io.TrainingCheckpoints;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The training loop shared by teacher pre-training and student distillation: AdamW with the
 * schedule of {@link TrainConfig}, gradient accumulation over {@code accumulationSteps}
 * micro-batches, global-norm clipping, periodic validation and early stopping on the validation
 * loss ({@code patience}), which returns the model to the best pass's parameters.
 *
 * <p>Every step allocates its arrays in a child manager that is closed at the end of the step, so
 * memory stays flat over the run.
 */
public final class TrainingLoop {
  private static final Logger LOG = LoggerFactory.getLogger(TrainingLoop.class);

  /** Learning-rate multiplier of quantiser parameters (bit depths, exponents). */
  public static final float QUANT_LR_SCALE = 10f;

  private TrainingLoop() {}

  public static TrainResult run(
      LanguageModel model,
      BatchSource train,
      BatchSource val,
      TrainConfig config,
      ProgressListener listener) {
    return run(model, train, val, config, listener, Checkpointing.none());
  }

  /**
   * As {@link #run(LanguageModel, BatchSource, BatchSource, TrainConfig, ProgressListener)}, with
   * checkpoints every {@code checkpointing.every()} steps and, with {@code resume}, continuing from
   * the newest valid checkpoint: model, AdamW moments and counts, the sampling RNG and, for a
   * streaming source, its {@link BatchSource#cursor()} (the data cursor), the curve so far. The
   * engine's RNG (dropout) is re-seeded from {@code (seed, step)} at every step, so a resumed run
   * draws the same dropout masks as an uninterrupted one.
   *
   * @throws UncheckedIOException when a checkpoint cannot be written or read
   */
  public static TrainResult run(
      LanguageModel model,
      BatchSource train,
      BatchSource val,
      TrainConfig config,
      ProgressListener listener,
      Checkpointing checkpointing) {
    return run(model, train, val, config, listener, checkpointing, null);
  }

  /**
   * As above, adding {@code regularizer}'s penalty (null for none) to every training step's loss;
   * the reported train loss includes it, validation losses do not. Quantiser parameters (names
   * ending in {@code .bits} or {@code .exp}) get no weight decay and {@value #QUANT_LR_SCALE} times
   * the learning rate: Adam moves every parameter by about the learning rate per step, and a bit
   * depth must travel several bits within one run.
   */
  public static TrainResult run(
      LanguageModel model,
      BatchSource train,
      BatchSource val,
      TrainConfig config,
      ProgressListener listener,
      Checkpointing checkpointing,
      Regularizer regularizer) {
    Map<String, Float> lrScale = new java.util.HashMap<>();
    for (Pair<String, Parameter> p : model.block().getParameters()) {
      if (p.getKey().endsWith(".bits") || p.getKey().endsWith(".exp")) {
        lrScale.put(p.getValue().getId(), QUANT_LR_SCALE);
      }
    }
    ResumableAdamW optimizer = TrainingStep.optimizer(config, lrScale);
    DefaultTrainingConfig tc = TrainingStep.trainingConfig(optimizer);
    Map<String, String> names = new LinkedHashMap<>();
    for (Pair<String, Parameter> p : model.block().getParameters()) {
      names.put(p.getValue().getId(), p.getKey());
    }
    Random trainRng = new Random(config.seed());
    List<TrainResult.CurvePoint> curve = new ArrayList<>();
    double lastVal = Double.NaN;
    double trainLoss = Double.NaN;
    int skippedSteps = 0;
    long tokens = 0;
    double priorSeconds = 0;
    int firstStep = 0;
    double bestVal = Double.NaN;
    int bestStep = 0;
    int passesWithout = 0;
    TrainingCheckpoints.Found resumed = null;
    if (checkpointing.resume()) {
      try {
        Optional<TrainingCheckpoints.Found> found =
            TrainingCheckpoints.latestValid(checkpointing.dir(), LOG::warn);
        if (found.isPresent()) {
          TrainingCheckpoints.State s = found.get().state();
          TrainingCheckpoints.restore(found.get(), model, optimizer, names);
          trainRng = s.rng();
          if (s.dataCursor() != null) {
            train.seek(s.dataCursor());
          }
          curve.addAll(s.curve());
          lastVal = s.lastVal();
          trainLoss = s.trainLoss();
          tokens = s.tokens();
          priorSeconds = s.seconds();
          firstStep = s.step();
          bestVal = s.bestVal();
          bestStep = s.bestStep();
          passesWithout = s.passesWithoutImprovement();
          resumed = found.get();
          LOG.info("resuming from {} at step {}", found.get().dir(), firstStep);
        } else {
          LOG.info("no checkpoint under {}; starting at step 0", checkpointing.dir());
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    long start = System.nanoTime();
    int stoppedEarlyAt = 0;
    // Parameters of the best validation pass (name -> copy), kept only when the run may stop early.
    try (Trainer trainer = model.model().newTrainer(tc);
        NDManager bestManager = model.model().getNDManager().newSubManager();
        MicroBatchLanes lanes =
            MicroBatchLanes.create(model, tc, config.concurrentMicroBatches(), regularizer)) {
      Map<String, NDArray> best = new LinkedHashMap<>();
      if (resumed != null && config.patience() > 0) {
        try {
          best.putAll(TrainingCheckpoints.best(resumed, names.values(), bestManager));
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
      List<NDArray> params = TrainingStep.parameters(model);
      List<String> ids = new ArrayList<>(names.keySet());
      int micro = config.accumulationSteps();
      for (int step = firstStep; step < config.steps(); step++) {
        trainer.getManager().getEngine().setRandomSeed(stepSeed(config.seed(), step));
        try (NDManager stepManager = trainer.getManager().newSubManager()) {
          // Gradient accumulation (nanoGPT's gradient_accumulation_steps): micro backward passes
          // before one update. PyTorch autograd adds each backward into .grad (a fresh
          // GradientCollector does not zero it; DJL's PtGradientCollector only sets grad mode), and
          // the loop zeroes .grad after the update or a skipped step
          // (Gradients.zeroParameterGradients), so each step starts from zero. Every micro loss is
          // a mean over its tokens,
          // scaled by 1/micro so the summed gradient is that of the mean over the effective batch.
          float stepLoss = 0f;
          for (int k = 0; k < micro; k += lanes.count()) {
            BatchSource.Batch[] batches = new BatchSource.Batch[lanes.count()];
            for (int j = 0; j < batches.length; j++) {
              // drawn in order on this thread: the data and the sampling RNG are those of
              // sequential accumulation
              batches[j] = train.next(stepManager, trainRng);
              tokens += batches[j].tokens();
            }
            int at = step;
            float[] losses =
                lanes.forwardBackward(
                    trainer,
                    batches,
                    (batch, logits) -> {
                      NDArray loss = batch.loss(logits);
                      if (regularizer != null) {
                        NDArray penalty = regularizer.penalty(model, stepManager, at);
                        if (penalty != null) {
                          loss = loss.add(penalty);
                        }
                      }
                      return micro == 1 ? loss : Scalars.mul(loss, 1f / micro);
                    });
            for (float l : losses) {
              stepLoss += l;
            }
          }
          if (regularizer != null) {
            regularizer.afterBackward(model);
          }
          // Multi-tensor clipping and AdamW over flat gradients (issue 13): a few dozen native
          // ops per step instead of about 20 per parameter through trainer.step().
          ResumableAdamW.Gradients grads = optimizer.gather(ids, params, stepManager);
          double norm = grads.clipGlobalNorm(config.gradClipNorm());
          boolean finite = Float.isFinite(stepLoss) && Double.isFinite(norm);
          if (finite) {
            optimizer.update(grads);
            trainLoss = stepLoss;
          }
          grads.zeroParameterGradients();
          if (!finite) {
            skippedSteps++;
            System.err.printf(
                Locale.ROOT,
                "[train] step %d: non-finite loss (%s) or gradient norm (%s); update skipped (%d"
                    + " so far)%n",
                step + 1,
                stepLoss,
                norm,
                skippedSteps);
          }
        }
        boolean last = step == config.steps() - 1;
        boolean stop = false;
        if (last || (config.evalEvery() > 0 && (step + 1) % config.evalEvery() == 0)) {
          lastVal = evaluate(trainer, val, config);
          curve.add(new TrainResult.CurvePoint(step + 1, trainLoss, lastVal));
          // Early stopping on the validation loss (Prechelt 1998, "Early Stopping - But When?"):
          // an improvement must beat the best by more than minDelta; a NaN loss never improves.
          if (Double.isNaN(bestVal)
              ? Double.isFinite(lastVal)
              : lastVal < bestVal - config.minDelta()) {
            bestVal = lastVal;
            bestStep = step + 1;
            passesWithout = 0;
            if (config.patience() > 0) {
              copyParameters(model, best, bestManager);
            }
          } else {
            passesWithout++;
            stop = config.patience() > 0 && passesWithout >= config.patience() && !last;
          }
        }
        if (stop) {
          restoreParameters(model, best);
          stoppedEarlyAt = step + 1;
          LOG.info(
              "early stop at step {}: no validation improvement > {} in {} passes; restored the"
                  + " parameters of step {} (val loss {})",
              stoppedEarlyAt,
              config.minDelta(),
              passesWithout,
              bestStep,
              bestVal);
        }
        double seconds = priorSeconds + (System.nanoTime() - start) / 1e9;
        // No checkpoint at the stopping step: its parameters are the best pass's, not the
        // optimiser's; a resume from the previous checkpoint replays to the same stop.
        if (!stop && checkpointing.enabled() && (step + 1) % checkpointing.every() == 0) {
          try {
            TrainingCheckpoints.save(
                checkpointing.dir(),
                model,
                optimizer,
                names,
                new TrainingCheckpoints.State(
                    step + 1,
                    trainRng,
                    tokens,
                    seconds,
                    trainLoss,
                    lastVal,
                    List.copyOf(curve),
                    config.describe(),
                    checkpointing.metadata(),
                    train.cursor(),
                    bestVal,
                    bestStep,
                    passesWithout),
                best,
                checkpointing.keep());
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
        listener.onStep(step + 1, config.steps(), trainLoss, lastVal, tokens / seconds);
        if (stop) {
          break;
        }
      }
    }
    double seconds = priorSeconds + (System.nanoTime() - start) / 1e9;
    double finalVal = stoppedEarlyAt > 0 ? bestVal : lastVal;
    return new TrainResult(
        curve, finalVal, tokens / seconds, seconds, bestStep, bestVal, stoppedEarlyAt);
  }

  /** Copies every parameter into {@code into} (by name), replacing earlier copies. */
  private static void copyParameters(
      LanguageModel model, Map<String, NDArray> into, NDManager manager) {
    for (Pair<String, Parameter> p : model.block().getParameters()) {
      NDArray copy = p.getValue().getArray().duplicate();
      copy.attach(manager);
      NDArray old = into.put(p.getKey(), copy);
      if (old != null) {
        old.close();
      }
    }
  }

  /** Writes the copies of {@link #copyParameters} back into the model's parameters. */
  private static void restoreParameters(LanguageModel model, Map<String, NDArray> from) {
    for (Pair<String, Parameter> p : model.block().getParameters()) {
      NDArray copy = from.get(p.getKey());
      if (copy == null) {
        throw new IllegalStateException("no copy of parameter " + p.getKey() + " to restore");
      }
      p.getValue().getArray().set(copy.toByteBuffer());
    }
  }

  /** The engine seed of a step: a mix of the run's seed and the step (SplitMix64's finaliser). */
  static int stepSeed(long seed, int step) {
    long z = seed + 0x9E3779B97F4A7C15L * (step + 1L);
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    z = z ^ (z >>> 31);
    return (int) (z & 0x7FFFFFFF);
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
}
