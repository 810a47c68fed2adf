package dev.distill.trainer.training;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.Trainer;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Runs the micro-batches of a training step {@code count} at a time, each on its own thread with
 * one intra-op engine thread, all on the same parameters (the setting {@link
 * TrainConfig#concurrentMicroBatches()}).
 *
 * <p>Why (issue 13): a small model's step is hundreds of short engine ops. With two intra-op
 * threads every op large enough to go parallel hands half its work to an OpenMP worker and waits
 * for it; between ops the worker either spins (stealing a core on a shared machine) or sleeps and
 * must be woken. Two micro-batches on two one-thread lanes keep both cores busy with no hand-off at
 * all, the way two one-thread executors beat one two-thread JVM in the cluster benchmark.
 *
 * <p>What stays exact: the batches are drawn in order on the caller's thread (same data, same
 * sampling RNG as sequential accumulation); every lane's backward pass adds into the parameters'
 * shared {@code .grad}, which libtorch guards with one lock per parameter ({@code AccumulateGrad});
 * with two lanes the sum is {@code g_a + g_b} in either order, bit for bit that of sequential
 * accumulation on one intra-op thread ({@code MicroBatchLanesTest}); with more lanes the order of
 * the additions, and so the last bit, varies between runs. The losses come back in lane order.
 *
 * <p>Refused (at construction): a regularizer (its penalty is computed on the caller's thread from
 * shared state), dropout (every lane would draw its mask from the engine's one RNG, in an order
 * that varies between runs), an engine other than PyTorch (the one-thread setting is libtorch's).
 */
final class MicroBatchLanes implements AutoCloseable {

  /** The loss of one micro-batch from its logits. */
  interface Loss {
    NDArray apply(BatchSource.Batch batch, NDArray logits);
  }

  private final int count;

  /**
   * Trainers of lanes 1..count-1 (their own parameter stores and metrics); lane 0 is the loop's.
   */
  private final Trainer[] trainers;

  private final ExecutorService pool;

  private MicroBatchLanes(int count, Trainer[] trainers, ExecutorService pool) {
    this.count = count;
    this.trainers = trainers;
    this.pool = pool;
  }

  /**
   * @throws IllegalArgumentException when {@code count > 1} and the run has a regularizer, dropout
   *     or an engine other than PyTorch
   */
  static MicroBatchLanes create(
      LanguageModel model, DefaultTrainingConfig tc, int count, Regularizer regularizer) {
    if (count == 1) {
      return new MicroBatchLanes(1, new Trainer[0], null);
    }
    String key = "train.concurrent-micro-batches=" + count;
    if (regularizer != null) {
      throw new IllegalArgumentException(
          key + " cannot run with a regularizer (compressed students): set it to 1");
    }
    if (model.config() instanceof GptConfig g && g.dropout() > 0) {
      throw new IllegalArgumentException(
          key
              + " cannot run with dropout "
              + g.dropout()
              + " (the lanes would draw their masks from one engine RNG in a varying order): set"
              + " it to 1 or the dropout to 0");
    }
    String engine = model.model().getNDManager().getEngine().getEngineName();
    if (!"PyTorch".equals(engine)) {
      throw new IllegalArgumentException(key + " needs the PyTorch engine, not " + engine);
    }
    Trainer[] trainers = new Trainer[count - 1];
    for (int i = 0; i < trainers.length; i++) {
      trainers[i] = model.model().newTrainer(tc);
    }
    ExecutorService pool =
        Executors.newFixedThreadPool(
            count - 1,
            r -> {
              Thread t = new Thread(r, "micro-batch-lane");
              t.setDaemon(true);
              return t;
            });
    return new MicroBatchLanes(count, trainers, pool);
  }

  /** Micro-batches run at a time. */
  int count() {
    return count;
  }

  /**
   * Forward and backward passes of {@code batches} ({@link #count()} of them), lane 0 on the
   * calling thread with {@code trainer}; returns each batch's loss, in order. Every lane has ended
   * when this returns or throws.
   */
  float[] forwardBackward(Trainer trainer, BatchSource.Batch[] batches, Loss loss) {
    if (count == 1) {
      return new float[] {
        TrainingStep.forwardBackward(trainer, batches[0].inputs(), l -> loss.apply(batches[0], l))
      };
    }
    List<Future<Float>> lanes = new ArrayList<>();
    for (int j = 1; j < count; j++) {
      BatchSource.Batch b = batches[j];
      Trainer t = trainers[j - 1];
      lanes.add(
          pool.submit(
              () -> {
                // per task: the pool thread's setting, and MKL's may be process-wide
                JniUtils.setNumThreads(1);
                return TrainingStep.forwardBackward(t, b.inputs(), l -> loss.apply(b, l));
              }));
    }
    int threads = JniUtils.getNumThreads();
    float[] out = new float[count];
    RuntimeException failure = null;
    JniUtils.setNumThreads(1);
    try {
      out[0] =
          TrainingStep.forwardBackward(
              trainer, batches[0].inputs(), l -> loss.apply(batches[0], l));
    } catch (RuntimeException e) {
      failure = e;
    } finally {
      // Wait for every lane before restoring the caller's threads or returning: they write the
      // same gradients.
      for (int j = 1; j < count; j++) {
        try {
          out[j] = lanes.get(j - 1).get();
        } catch (ExecutionException e) {
          RuntimeException cause =
              e.getCause() instanceof RuntimeException r
                  ? r
                  : new IllegalStateException("micro-batch lane " + j + " failed", e.getCause());
          if (failure == null) {
            failure = cause;
          } else {
            failure.addSuppressed(cause);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          failure = new IllegalStateException("interrupted while waiting for micro-batch lanes", e);
        }
      }
      JniUtils.setNumThreads(threads);
    }
    if (failure != null) {
      throw failure;
    }
    return out;
  }

  @Override
  public void close() {
    if (pool != null) {
      pool.shutdownNow();
    }
    for (Trainer t : trainers) {
      t.close();
    }
  }
}
