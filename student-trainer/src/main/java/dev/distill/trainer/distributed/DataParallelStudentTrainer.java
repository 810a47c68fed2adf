package dev.distill.trainer.distributed;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.Trainer;
import ai.djl.util.Pair;
import dev.distill.models.autograd.Scalars;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.trainer.data.Example;
import dev.distill.trainer.data.KdBatch;
import dev.distill.trainer.io.CuratedDataset;
import dev.distill.trainer.io.TrainingCheckpoints;
import dev.distill.trainer.loss.DistillationLoss;
import dev.distill.trainer.loss.Divergence;
import dev.distill.trainer.training.ResumableAdamW;
import dev.distill.trainer.training.SoftLabelBatches;
import dev.distill.trainer.training.StudentRecipe;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainingLoop;
import dev.distill.trainer.training.TrainingStep;
import dev.distill.training.spi.AllReduce;
import dev.distill.training.spi.DistributedTrainer;
import dev.distill.training.spi.TrainSummary;
import dev.distill.training.spi.WorkerTask;
import dev.distill.training.spi.WorkerTask.Sync;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.apache.hadoop.conf.Configuration;

/**
 * The KD student trained data-parallel: one instance per worker, each on its shard of the curated
 * train split, synchronised through an {@link AllReduce} (Spark barrier tasks in production, see
 * {@code dev.distill.spark.training.BarrierTrainJob}). Optimiser, schedule, forward/backward and
 * clipping are {@link TrainingStep}'s, shared with {@link TrainingLoop}; the loss is the embedded
 * pipeline's KD student's.
 *
 * <p>Two synchronisation modes ({@code train.spark.sync}):
 *
 * <ul>
 *   <li>{@code allreduce}: after every backward pass the gradients are replaced by the mean
 *       gradient of the global batch (the workers' mean gradients summed in rank order and divided
 *       by W when their labelled-token counts are equal, token-weighted otherwise: {@code
 *       averageGradients}), so W workers with B/W sequences each take the same step as one worker
 *       with B (synchronous data-parallel SGD, Goyal et al. 2017). Clipping then sees the global
 *       gradient, as it would on one machine.
 *   <li>{@code average}: each worker takes H local AdamW steps, then parameters are averaged (local
 *       SGD / "Don't use large mini-batches, use local SGD", Lin et al. 2020; DiLoCo, Douillard et
 *       al. 2023, with plain averaging as the outer step). One exchange per H steps, for slow
 *       networks; optimiser moments stay local.
 *   <li>{@code diloco}: DiLoCo (Douillard et al. 2023, arXiv:2311.08105): each worker takes H =
 *       {@code train.spark.inner-steps} local AdamW steps; the outer step all-reduces the parameter
 *       deltas, Δ = mean over workers of (θ_start − θ_worker), and applies SGD with Nesterov
 *       momentum to θ_start ({@link DiLoCoOuterStep}; the paper's outer lr 0.7, momentum 0.9,
 *       {@code train.spark.outer-lr}, {@code train.spark.outer-momentum}). One exchange per H
 *       steps; inner AdamW moments stay local. {@code average} is this outer step with lr 1 and no
 *       momentum.
 * </ul>
 *
 * <p>Data order is deterministic and independent of the world size: the examples (sorted by id) are
 * shuffled once with {@code run.seed}, cut to a multiple of W, and dealt round-robin; step s of
 * worker r uses its shard positions {@code s*b .. s*b+b-1} (mod shard size), b = B / W. The union
 * over workers is exactly the global positions {@code s*B .. s*B+B-1} that one worker with batch B
 * uses, which is what makes the all-reduce run equal to the single-process run.
 *
 * <p>Checkpoints (the job's {@code Io.checkpoints} folder, every {@code train.checkpoint-every}
 * steps) are {@link TrainingCheckpoints}, written by rank 0 alone: after the all-reduce every
 * worker holds the same parameters and optimiser state. Because the data order above is a function
 * of the step, the data cursor is the step itself; with {@code Io.resume} every worker loads the
 * newest valid checkpoint and continues from its step, so a resumed run ends on the uninterrupted
 * run's model.
 */
public final class DataParallelStudentTrainer implements DistributedTrainer {
  public static final String NAME = "student";
  private static final Object AUTOGRAD = new Object();

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public TrainSummary train(WorkerTask task, AllReduce allReduce) throws Exception {
    WorkerTask.Io io = task.job().io();
    WorkerTask.Synchronisation sync = task.job().sync();
    WorkerTask.Hyperparameters hp = task.job().hyper();
    // its type lives in models, which the SPI (seen by spark-jobs) cannot see: parsed here
    Divergence divergence = divergence(hp.divergence());
    int world = task.worldSize();
    int rank = task.rank();
    if (hp.batch() % world != 0) {
      throw new IllegalArgumentException(
          "student.batch " + hp.batch() + " must be a multiple of the worker count " + world);
    }
    int localBatch = hp.batch() / world;
    if (localBatch % hp.accumulationSteps() != 0) {
      throw new IllegalArgumentException(
          "student.batch "
              + hp.batch()
              + " / "
              + world
              + " workers = "
              + localBatch
              + " sequences per worker, not a multiple of train.accumulation-steps "
              + hp.accumulationSteps());
    }
    CharTokenizer tokenizer = CharTokenizer.load(Path.of(io.tokenizer()));
    CuratedDataset trainSet =
        CuratedDataset.read(
            io.curated(), "train", tokenizer.id(), tokenizer.sha256(), new Configuration());
    CuratedDataset valSet =
        CuratedDataset.read(
            io.curated(), "val", tokenizer.id(), tokenizer.sha256(), new Configuration());
    List<Example> all = new ArrayList<>(trainSet.examples());
    all.sort(Comparator.comparing(Example::id));
    Collections.shuffle(all, new Random(hp.seed()));
    int usable = all.size() - all.size() % world;
    if (usable < world) {
      throw new IllegalArgumentException(
          "curated train split of "
              + io.curated()
              + " has "
              + all.size()
              + " examples, fewer than "
              + world
              + " workers");
    }
    List<Example> shard = new ArrayList<>(usable / world);
    for (int i = rank; i < usable; i += world) {
      shard.add(all.get(i));
    }

    GptConfig gpt =
        new GptConfig(
            tokenizer.vocabSize(), hp.blockSize(), hp.layers(), hp.heads(), hp.embd(), 0f);
    TrainConfig tc = StudentRecipe.schedule(hp.steps(), hp.batch(), hp.lr(), hp.seed());
    // The same loss construction as the in-process `distill train`, train.divergence included.
    DistillationLoss loss = StudentRecipe.loss(hp.alpha(), trainSet.temperature(), divergence);
    SoftLabelBatches val = new SoftLabelBatches(valSet.examples(), hp.batch(), loss);
    String cursorPrefix =
        String.format(
            Locale.ROOT,
            "data-parallel world=%d batch=%d seed=%d step=",
            world,
            hp.batch(),
            hp.seed());

    long tokens = 0;
    long syncs = 0;
    double valLoss = Double.NaN;
    double priorSeconds = 0;
    int firstStep = 0;
    long start;
    double seconds;
    TrainSummary.Timing timing;
    ResumableAdamW optimizer = TrainingStep.optimizer(tc, Map.of());
    try (LanguageModel model = LanguageModel.create(gpt, tokenizer, hp.seed())) {
      Map<String, String> names = new LinkedHashMap<>();
      for (Pair<String, Parameter> p : model.block().getParameters()) {
        names.put(p.getValue().getId(), p.getKey());
      }
      // DiLoCo's outer optimiser (same state on all workers); its θ_start is set below
      DiLoCoOuterStep outer =
          sync.mode() == Sync.DILOCO
              ? new DiLoCoOuterStep(
                  flatten(TrainingStep.parameters(model)).length,
                  sync.outerLr(),
                  sync.outerMomentum())
              : null;
      if (io.resume()) {
        // Every worker loads the same (newest valid) checkpoint from the shared folder; the start
        // check below fails the job if two workers ended up on different parameters.
        Optional<TrainingCheckpoints.Found> found =
            TrainingCheckpoints.latestValid(
                Path.of(io.checkpoints()),
                w -> System.err.printf("[train] worker %d: %s%n", rank, w));
        if (found.isPresent()) {
          TrainingCheckpoints.State s = found.get().state();
          String cursor = s.dataCursor();
          if (cursor == null || !cursor.equals(cursorPrefix + s.step())) {
            throw new IllegalArgumentException(
                "checkpoint "
                    + found.get().dir()
                    + " has data cursor '"
                    + cursor
                    + "', this run needs '"
                    + cursorPrefix
                    + s.step()
                    + "': resume with the same train.spark.workers, student.batch and run.seed");
          }
          TrainingCheckpoints.restore(found.get(), model, optimizer, names);
          firstStep = s.step();
          if (sync.mode() == Sync.DILOCO) {
            // This worker's own inner AdamW moments (the checkpoint holds rank 0's) and the outer
            // velocity and step count, saved beside the checkpoint.
            DiLoCoCheckpoints.requireAll(Path.of(io.checkpoints()), firstStep, world);
            DiLoCoCheckpoints.read(
                Path.of(io.checkpoints()),
                firstStep,
                rank,
                world,
                outer,
                optimizer,
                names,
                model.model().getNDManager());
            int expected = (firstStep + sync.innerSteps() - 1) / sync.innerSteps();
            if (outer.steps() != expected) {
              throw new IllegalArgumentException(
                  "checkpoint "
                      + found.get().dir()
                      + " was taken after "
                      + outer.steps()
                      + " outer steps, this run would have taken "
                      + expected
                      + " by step "
                      + firstStep
                      + ": resume with the same train.spark.inner-steps");
            }
          }
          valLoss = s.lastVal();
          priorSeconds = s.seconds();
          // The cursor is global and deterministic, so each worker recounts its own tokens.
          for (int step = 0; step < firstStep; step++) {
            for (Example e : picked(shard, step, localBatch)) {
              tokens += e.positions();
            }
          }
          if (rank == 0) {
            System.err.printf(
                "[train] resuming %d workers from %s at step %d%n",
                world, found.get().dir(), firstStep);
          }
        }
      }
      try (Trainer trainer = model.model().newTrainer(TrainingStep.trainingConfig(optimizer))) {
        List<NDArray> params = TrainingStep.parameters(model);
        checkSameStart(params, allReduce, world);
        // DiLoCo: θ_start of the current outer round (a checkpoint is taken right after an outer
        // step, where every worker's parameters are θ_start)
        float[] outerStart = sync.mode() == Sync.DILOCO ? flatten(params) : null;
        start = System.nanoTime();
        Window window = new Window(allReduce);
        int timedFrom = Math.min(hp.steps(), firstStep + hp.warmupSteps());
        for (int step = firstStep; step < hp.steps(); step++) {
          if (step == timedFrom) {
            window.open(step, tokens);
          }
          try (NDManager m = trainer.getManager().newSubManager()) {
            long stepTokens = 0;
            int micro = hp.accumulationSteps();
            for (int k = 0; k < micro; k++) {
              KdBatch batch = KdBatch.of(m, picked(shard, step, localBatch, micro, k));
              // DJL's PyTorch engine allows one gradient collector per JVM at a time. On a cluster
              // each barrier task has its own executor JVM (spark.task.cpus = executor cores);
              // with several workers in one JVM (local[N]) their forward/backward passes take
              // turns. The all-reduce stays outside the lock, or a waiting worker would block the
              // others.
              synchronized (AUTOGRAD) {
                // As TrainingLoop accumulates: each micro loss (a mean over its tokens) times
                // 1/micro, autograd adding the backward passes into .grad.
                TrainingStep.forwardBackward(
                    trainer,
                    batch.inputs(),
                    logits -> {
                      NDArray l = loss.total(logits, batch);
                      return micro == 1 ? l : Scalars.mul(l, 1f / micro);
                    });
              }
              stepTokens += batch.tokenCount();
            }
            tokens += stepTokens;
            if (sync.mode() == Sync.ALLREDUCE) {
              averageGradients(params, stepTokens, window, world, rank, m);
              syncs++;
            }
            double norm = TrainingStep.clipGlobalNorm(params, tc.gradClipNorm());
            // Decided on the (all-reduced) gradients alone, so every worker skips the same steps.
            if (TrainingStep.finite(0f, norm, params, tc.gradClipNorm())) {
              trainer.step();
            } else {
              TrainingStep.zeroGradients(params);
              System.err.printf(
                  "[train] worker step %d: non-finite gradients; skipped%n", step + 1);
            }
            boolean last = step == hp.steps() - 1;
            if (sync.mode() == Sync.AVERAGE && ((step + 1) % sync.averageEvery() == 0 || last)) {
              averageParameters(params, window, world, m);
              syncs++;
            }
            if (sync.mode() == Sync.DILOCO && ((step + 1) % sync.innerSteps() == 0 || last)) {
              outerStep(params, outerStart, outer, window, world, m);
              syncs++;
            }
          }
          if (step == hp.steps() - 1 || (step + 1) % tc.evalEvery() == 0) {
            valLoss = TrainingLoop.evaluate(trainer, val, tc);
          }
          boolean checkpoint = checkpointDue(task.job(), step + 1);
          if (checkpoint && sync.mode() == Sync.DILOCO) {
            // Every worker's own state first; the rendezvous makes sure all of it is on disk
            // before rank 0 makes the checkpoint visible, so a verified checkpoint can resume.
            DiLoCoCheckpoints.write(
                Path.of(io.checkpoints()), step + 1, rank, world, outer, optimizer, names);
            float[] written = allReduce.sum(new float[] {1f});
            if (written[0] != world) {
              throw new IllegalStateException(
                  "DiLoCo checkpoint of step " + (step + 1) + ": " + written[0] + " workers wrote");
            }
          }
          if (rank == 0 && checkpoint) {
            // After the all-reduce every worker holds the same parameters (and, with all-reduce,
            // the same optimiser state), so rank 0's state is the job's state; DiLoCo's per-worker
            // inner moments are in the DiLoCoCheckpoints files written above.
            TrainingCheckpoints.save(
                Path.of(io.checkpoints()),
                model,
                optimizer,
                names,
                new TrainingCheckpoints.State(
                    step + 1,
                    new Random(hp.seed()), // unused: batches follow the cursor, not an RNG
                    tokens,
                    priorSeconds + (System.nanoTime() - start) / 1e9,
                    Double.NaN,
                    valLoss,
                    List.of(),
                    tc.describe(),
                    loss.metadata(),
                    cursorPrefix + (step + 1)),
                2);
            if (sync.mode() == Sync.DILOCO) {
              List<Path> kept = TrainingCheckpoints.list(Path.of(io.checkpoints()));
              DiLoCoCheckpoints.prune(
                  Path.of(io.checkpoints()),
                  Integer.parseInt(
                      kept.get(kept.size() - 1).getFileName().toString().substring(5)));
            }
          }
          if (io.stopAfter() > 0 && step + 1 >= io.stopAfter() && step + 1 < hp.steps()) {
            // As a kill would: checkpoints stay, no final model (every worker stops here).
            seconds = priorSeconds + (System.nanoTime() - start) / 1e9;
            return new TrainSummary(
                rank,
                step + 1,
                tokens,
                seconds,
                valLoss,
                allReduce.bytesSent(),
                syncs,
                all.size() - usable,
                "",
                "",
                window.close(step + 1, tokens));
          }
        }
        seconds = priorSeconds + (System.nanoTime() - start) / 1e9;
        timing = window.close(hp.steps(), tokens);
        if (rank == 0) {
          System.err.printf(
              Locale.ROOT,
              "[train] worker 0 after a %d-step warm-up: %d steps, %.0f tokens/s, %d exchanges of"
                  + " %.1f ms, %.1f ms per step outside them%n",
              hp.warmupSteps(),
              timing.steps(),
              timing.tokensPerSecond(),
              timing.exchanges(),
              timing.msPerExchange(),
              timing.msPerStepOutsideExchanges());
        }
      }
      String output = "";
      if (rank == 0) {
        Map<String, String> meta = new LinkedHashMap<>(loss.metadata());
        meta.put("role", "student");
        meta.put("loss", loss.description());
        meta.put(
            "training",
            String.format(
                Locale.ROOT,
                "data-parallel, %d workers, sync %s%s",
                world,
                sync.mode().name().toLowerCase(Locale.ROOT),
                switch (sync.mode()) {
                  case AVERAGE -> " every " + sync.averageEvery() + " steps";
                  case DILOCO ->
                      String.format(
                          Locale.ROOT,
                          " (H = %d inner steps, outer Nesterov lr %s, momentum %s)",
                          sync.innerSteps(),
                          sync.outerLr(),
                          sync.outerMomentum());
                  case ALLREDUCE -> "";
                }));
        meta.put("resumed-at.step", Integer.toString(firstStep));
        Checkpoints.save(model, Path.of(io.output()), meta);
        output = io.output();
      }
      return new TrainSummary(
          rank,
          hp.steps(),
          tokens,
          seconds,
          valLoss,
          allReduce.bytesSent(),
          syncs,
          all.size() - usable,
          output,
          "",
          timing);
    }
  }

  /**
   * The loop's all-reduce, timed from the first step after the warm-up ({@link
   * TrainSummary.Timing}): a throughput ratio must not contain executor start-up or warm-up, and
   * the exchange's share of an outer step decides whether a faster transport is worth it (issue 16:
   * "measure before choosing").
   */
  private static final class Window implements AllReduce {
    private final AllReduce inner;
    private long openedAt = -1;
    private long fromStep;
    private long fromTokens;
    private long exchanges;
    private long exchangeNanos;

    Window(AllReduce inner) {
      this.inner = inner;
    }

    @Override
    public float[] sum(float[] local) {
      long t = System.nanoTime();
      try {
        return inner.sum(local);
      } finally {
        if (openedAt >= 0) {
          exchanges++;
          exchangeNanos += System.nanoTime() - t;
        }
      }
    }

    @Override
    public long bytesSent() {
      return inner.bytesSent();
    }

    void open(long step, long tokens) {
      openedAt = System.nanoTime();
      fromStep = step;
      fromTokens = tokens;
    }

    /** The window up to now, after {@code step} steps and {@code tokens} tokens. */
    TrainSummary.Timing close(long step, long tokens) {
      if (openedAt < 0) {
        return new TrainSummary.Timing(step, 0, 0, 0, 0, 0);
      }
      return new TrainSummary.Timing(
          fromStep,
          step - fromStep,
          tokens - fromTokens,
          (System.nanoTime() - openedAt) / 1e9,
          exchanges,
          exchangeNanos / 1e9);
    }
  }

  /** Worker's examples of {@code step}: its shard positions step*b .. step*b+b-1 (mod size). */
  private static List<Example> picked(List<Example> shard, int step, int localBatch) {
    return picked(shard, step, localBatch, 1, 0);
  }

  /**
   * Micro-batch {@code k} of {@code micro} of the worker's step: shard positions step*b + micro*u +
   * k, u < b / micro. The shards are dealt round-robin, so micro-batch k of one worker with {@code
   * micro} = W is exactly what worker k of W workers gets (without accumulation): one process
   * accumulating W micro-batches computes the same gradients, in the same order, as W workers.
   */
  private static List<Example> picked(
      List<Example> shard, int step, int localBatch, int micro, int k) {
    int size = localBatch / micro;
    List<Example> picked = new ArrayList<>(size);
    for (int u = 0; u < size; u++) {
      long at = (long) step * localBatch + (long) micro * u + k;
      picked.add(shard.get((int) (at % shard.size())));
    }
    return picked;
  }

  /**
   * A checkpoint after {@code done} steps: every train.checkpoint-every steps; with averaging only
   * where the parameters were just averaged (every worker equal), the optimiser moments saved are
   * then rank 0's (local SGD keeps them per worker; a resumed worker continues from rank 0's).
   */
  static boolean checkpointDue(WorkerTask.Job job, int done) {
    if (job.io().checkpoints() == null || done % job.hyper().checkpointEvery() != 0) {
      return false;
    }
    return switch (job.sync().mode()) {
      case ALLREDUCE -> true;
      case AVERAGE -> done % job.sync().averageEvery() == 0 || done == job.hyper().steps();
      case DILOCO -> done % job.sync().innerSteps() == 0 || done == job.hyper().steps();
    };
  }

  /** Same seed, same init on every machine; a worker that differs would silently diverge. */
  private static void checkSameStart(List<NDArray> params, AllReduce allReduce, int world) {
    double own = 0;
    for (NDArray p : params) {
      for (float v : p.toFloatArray()) {
        own += v;
      }
    }
    float[] sum = allReduce.sum(new float[] {(float) own});
    if (Math.abs(sum[0] - world * (float) own) > 1e-3 * Math.max(1, Math.abs(world * own))) {
      throw new IllegalStateException(
          "workers start from different parameters (checksum sum "
              + sum[0]
              + " vs "
              + world * own
              + "): same model config and run.seed on every worker?");
    }
  }

  /**
   * Replaces every gradient by the mean gradient of the global batch. Each worker's gradient g_r is
   * the mean over its labelled tokens (t_r of them). When every worker had the same token count
   * (fixed-length windows: the usual case), the mean is (g_0 + g_1 + ... + g_{W-1}) / W, summed in
   * rank order: for W a power of two that is bit for bit what one process computes accumulating the
   * same W micro-batches (autograd adds g_k / W into .grad in the same order, and scaling by a
   * power of two is exact in float32), so the data-parallel run reproduces that single-process run
   * exactly (issue 16, ask 3). Otherwise it is the token-weighted mean Σ t_r g_r / Σ t_r (Goyal et
   * al. 2017), which takes a second exchange.
   */
  static void averageGradients(
      List<NDArray> params,
      long localTokens,
      AllReduce allReduce,
      int world,
      int rank,
      NDManager m) {
    int n = 0;
    List<float[]> grads = new ArrayList<>(params.size());
    for (NDArray p : params) {
      try (NDArray g = p.getGradient()) {
        float[] a = g.toFloatArray();
        grads.add(a);
        n += a.length;
      }
    }
    // The gradients, then one token-count slot per worker (exact in float32 below 2^24).
    float[] flat = new float[n + world];
    int at = 0;
    for (float[] a : grads) {
      System.arraycopy(a, 0, flat, at, a.length);
      at += a.length;
    }
    flat[n + rank] = localTokens;
    float[] sum = allReduce.sum(flat);
    boolean equalCounts = true;
    for (int r = 1; r < world; r++) {
      equalCounts &= sum[n + r] == sum[n];
    }
    float[] mean = new float[n];
    if (equalCounts) {
      for (int i = 0; i < n; i++) {
        mean[i] = sum[i] / world;
      }
    } else {
      float[] weighted = new float[n + 1];
      for (int i = 0; i < n; i++) {
        weighted[i] = flat[i] * localTokens;
      }
      weighted[n] = localTokens;
      float[] ws = allReduce.sum(weighted);
      for (int i = 0; i < n; i++) {
        mean[i] = ws[i] / ws[n];
      }
    }
    at = 0;
    for (NDArray p : params) {
      try (NDArray g = p.getGradient()) {
        int size = (int) g.size();
        float[] part = new float[size];
        System.arraycopy(mean, at, part, 0, size);
        at += size;
        try (NDArray replacement = m.create(part, g.getShape())) {
          Scalars.muli(g, 0f).addi(replacement);
        }
      }
    }
  }

  /**
   * DiLoCo's outer step: Δ = mean over workers of ({@code start} − θ_worker), then {@code outer}
   * moves {@code start} (in place) and every worker's parameters are set to it.
   */
  static void outerStep(
      List<NDArray> params,
      float[] start,
      DiLoCoOuterStep outer,
      AllReduce allReduce,
      int world,
      NDManager m) {
    float[] local = flatten(params);
    float[] delta = new float[local.length];
    for (int i = 0; i < delta.length; i++) {
      delta[i] = start[i] - local[i];
    }
    float[] sum = allReduce.sum(delta);
    for (int i = 0; i < sum.length; i++) {
      sum[i] /= world;
    }
    outer.apply(start, sum);
    assign(params, start, m);
  }

  /** The parameters, concatenated in order. */
  static float[] flatten(List<NDArray> params) {
    int n = 0;
    for (NDArray p : params) {
      n += (int) p.size();
    }
    float[] flat = new float[n];
    int at = 0;
    for (NDArray p : params) {
      float[] a = p.toFloatArray();
      System.arraycopy(a, 0, flat, at, a.length);
      at += a.length;
    }
    return flat;
  }

  /** Replaces every parameter by its mean over all workers (outside autograd). */
  static void averageParameters(List<NDArray> params, AllReduce allReduce, int world, NDManager m) {
    float[] sum = allReduce.sum(flatten(params));
    for (int i = 0; i < sum.length; i++) {
      sum[i] /= world;
    }
    assign(params, sum, m);
  }

  /** Sets the parameters to {@code flat} (their concatenation), outside autograd. */
  private static void assign(List<NDArray> params, float[] flat, NDManager m) {
    int at = 0;
    for (NDArray p : params) {
      int size = (int) p.size();
      float[] mean = new float[size];
      System.arraycopy(flat, at, mean, 0, size);
      at += size;
      // torch's param.detach().copy_(x): a detached view shares the storage, so writing through it
      // updates the parameter without autograd refusing an in-place op on a leaf.
      try (NDArray replacement = m.create(mean, p.getShape());
          NDArray view = p.stopGradient()) {
        Scalars.muli(view, 0f).addi(replacement);
      }
    }
  }

  /** {@code train.divergence}, whose type the SPI cannot see (it lives in models). */
  static Divergence divergence(String name) {
    try {
      return Divergence.parse(name);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("train.divergence: " + e.getMessage(), e);
    }
  }
}
