package dev.distill.deploy.pipeline;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.Tokenizer;
import dev.distill.trainer.data.Example;
import dev.distill.trainer.io.CuratedDataset;
import dev.distill.trainer.loss.DistillationLoss;
import dev.distill.trainer.training.BatchSource;
import dev.distill.trainer.training.Checkpointing;
import dev.distill.trainer.training.Regularizer;
import dev.distill.trainer.training.SoftLabelBatches;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainResult;
import dev.distill.trainer.training.TrainingLoop;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.hadoop.conf.Configuration;

/**
 * Training students, one job: a model the caller made and owns, its batches, the training loop with
 * a progress line, then its checkpoint. Shared by every workload (char, subword, arithmetic); what
 * differs between them (architecture, batches, loss, regulariser) comes in as arguments.
 */
record TrainStage(TrainConfig tc, String stage, String runId, PrintStream out) {
  /** Training a workload's students on the demo's student recipe, logged as {@code stage}. */
  static TrainStage students(
      DemoConfig config, int steps, int batch, String stage, PrintStream out) {
    return new TrainStage(
        LocalPipeline.studentTrainConfig(config, steps, batch), stage, config.runId(), out);
  }

  /**
   * A cosine schedule with weight decay 0.01 and gradient clipping at 1 (nanoGPT's defaults):
   * warm-up over {@code steps / warmupDivisor} steps, validation every {@code steps / evalDivisor}.
   */
  static TrainConfig recipe(
      int steps,
      int batch,
      float lr,
      float minLr,
      int warmupDivisor,
      int evalDivisor,
      int evalBatches,
      long seed) {
    return TrainConfig.builder(steps, batch, lr)
        .warmupSteps(Math.max(1, steps / warmupDivisor))
        .minLearningRate(minLr)
        .weightDecay(0.01f)
        .evaluation(Math.max(1, steps / evalDivisor), evalBatches)
        .seed(seed)
        .build();
  }

  /**
   * The KD student and the hard-label student (alpha 0): the same architecture from {@code create},
   * steps and seed, each saved under {@code modelsDir/NAME}.
   *
   * @param describe the part of each student's console line before its loss, e.g. {@code
   *     Llama-family, 12,345 params}
   * @return each student's curve, by name, in that order
   */
  Map<String, TrainResult> kdAndHardLabel(
      Supplier<LanguageModel> create,
      String describe,
      List<Example> train,
      List<Example> val,
      DistillationLoss kd,
      DistillationLoss hard,
      Path modelsDir,
      StageClock.Running running)
      throws IOException {
    Map<String, TrainResult> curves = new java.util.concurrent.ConcurrentHashMap<>();
    Map<String, Job> jobs = new LinkedHashMap<>();
    for (Map.Entry<String, DistillationLoss> e :
        List.of(Map.entry(KD, kd), Map.entry(HARD_LABEL, hard))) {
      DistillationLoss loss = e.getValue();
      out.printf(
          Locale.ROOT,
          "[%s] %s: %s, alpha %.2f (%s)%n",
          stage,
          e.getKey(),
          describe,
          loss.alpha(),
          loss.description());
      jobs.put(
          e.getKey(),
          () -> {
            try (LanguageModel s = create.get()) {
              curves.put(
                  e.getKey(), train(e.getKey(), s, batches(train, loss), batches(val, loss), null));
              save(s, modelsDir.resolve(e.getKey()), loss.description());
            }
          });
    }
    concurrently(jobs, running);
    Map<String, TrainResult> ordered = new LinkedHashMap<>();
    jobs.keySet().forEach(k -> ordered.put(k, curves.get(k)));
    return ordered;
  }

  /** One of the jobs {@link #concurrently} runs: a student's training and saving. */
  interface Job {
    void run() throws IOException;
  }

  /**
   * Runs independent {@code jobs} (students of one workload) at the same time, each on its own
   * thread with {@code max(1, t / jobs)} intra-op engine threads, {@code t} being the caller's (the
   * launcher sets it to the core count). Why (issue 13, ask 5): a small student's step is hundreds
   * of short engine ops; on one thread each op runs on the calling thread, without waking or
   * waiting for the other OpenMP worker, so two 1-thread trainers on 2 cores do more steps per
   * second together than one 2-thread trainer (about 1.35x in the cluster benchmark,
   * benchmarks/README). libtorch's thread count is per calling thread under OpenMP ({@code
   * at::set_num_threads}), as {@code LanguageModel.onOneThreadIfSmall} relies on; the caller's
   * count is set again afterwards because MKL's part of that setting is process-wide.
   *
   * <p>Each job's CPU seconds (its thread's, which with one intra-op thread is all of its engine
   * work) go to {@code stage} as a part ({@code cpu_seconds_by_part} in report.json); {@code stage}
   * may be null. The first failure is rethrown after every job has ended.
   */
  static void concurrently(Map<String, Job> jobs, StageClock.Running stage) throws IOException {
    boolean pytorch = "PyTorch".equals(Engine.getInstance().getEngineName());
    int callerThreads = pytorch ? JniUtils.getNumThreads() : 1;
    int each = Math.max(1, callerThreads / Math.max(1, jobs.size()));
    ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
    List<Thread> threads = new ArrayList<>();
    List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
    Map<String, Double> cpuSeconds = new java.util.concurrent.ConcurrentHashMap<>();
    for (Map.Entry<String, Job> e : jobs.entrySet()) {
      Thread t =
          new Thread(
              () -> {
                if (pytorch) {
                  JniUtils.setNumThreads(each);
                }
                long c0 = cpu.getCurrentThreadCpuTime();
                try {
                  e.getValue().run();
                } catch (Throwable x) {
                  failures.add(x);
                } finally {
                  cpuSeconds.put(e.getKey(), (cpu.getCurrentThreadCpuTime() - c0) / 1e9);
                }
              },
              "train-" + e.getKey());
      threads.add(t);
      t.start();
    }
    try {
      for (Thread t : threads) {
        t.join();
      }
    } catch (InterruptedException x) {
      threads.forEach(Thread::interrupt);
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while training " + jobs.keySet(), x);
    } finally {
      if (pytorch) {
        JniUtils.setNumThreads(callerThreads);
      }
    }
    if (stage != null) {
      // in the jobs' order, not the order they ended in: the report reads the same every run
      jobs.keySet().forEach(k -> stage.part(k, cpuSeconds.getOrDefault(k, 0.0)));
    }
    if (!failures.isEmpty()) {
      Throwable f = failures.get(0);
      failures.stream().skip(1).forEach(f::addSuppressed);
      if (f instanceof IOException io) {
        throw io;
      }
      if (f instanceof UncheckedIOException u) {
        throw u.getCause();
      }
      if (f instanceof RuntimeException r) {
        throw r;
      }
      if (f instanceof Error err) {
        throw err;
      }
      throw new IOException(f);
    }
  }

  /** A nanoGPT-style teacher recipe: minimum lr a tenth, validation every quarter, 8 batches. */
  static TrainConfig teacherRecipe(int steps, int batch, float lr, long seed) {
    return recipe(steps, batch, lr, lr / 10, 20, 4, 8, seed);
  }

  /** A workload's curated examples: its train split and its val split. */
  record Curated(CuratedDataset train, CuratedDataset val) {
    /**
     * Reads {@code workloadDir/curated} (checking that it was labelled with {@code tokenizer}); a
     * tiny run can leave the val split empty ({@code valExamples == 0}), and validation then reuses
     * the train split.
     */
    static Curated read(Path workloadDir, Tokenizer tokenizer, long valExamples)
        throws IOException {
      String dir = workloadDir.resolve("curated").toString();
      CuratedDataset train =
          CuratedDataset.read(
              dir, "train", tokenizer.id(), tokenizer.sha256(), new Configuration());
      return new Curated(
          train,
          valExamples > 0
              ? CuratedDataset.read(
                  dir, "val", tokenizer.id(), tokenizer.sha256(), new Configuration())
              : train);
    }
  }

  static final String KD = "kd-student";
  static final String HARD_LABEL = "hard-label-student";

  /** Soft-label batches of {@code examples} under {@code loss}, at this stage's batch size. */
  BatchSource batches(List<Example> examples, DistillationLoss loss) {
    return new SoftLabelBatches(examples, tc.batchSize(), loss);
  }

  /**
   * Trains {@code student} in place.
   *
   * @param regularizer a penalty added to each step's loss (self-compression), or null
   */
  TrainResult train(
      String name,
      LanguageModel student,
      BatchSource train,
      BatchSource val,
      Regularizer regularizer) {
    StageProgress progress = new StageProgress(out, stage + " " + name);
    return TrainingLoop.run(
        student,
        train,
        val,
        tc,
        (step, total, l, v, tps) ->
            progress.update(step, total, StageProgress.trainingDetail(l, v, tps)),
        Checkpointing.none(),
        regularizer);
  }

  /** Saves a trained student as a checkpoint whose manifest names its role, loss and run. */
  void save(LanguageModel student, Path dir, String lossDescription) throws IOException {
    Checkpoints.save(
        student, dir, Map.of("role", "student", "loss", lossDescription, "run_id", runId));
  }
}
