package dev.distill.training.spi;

import java.io.Serializable;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * What one worker of a data-parallel job is asked to do: its rank and the job, every field typed
 * and validated on construction (issue 17: it was a {@code Map<String,String>} parsed on each
 * executor, so a typo failed only once Spark had started). Serializable: Spark ships it in the
 * barrier closure. Paths are Strings because {@code java.nio.file.Path} is not Serializable.
 *
 * @param rank this worker, {@code 0 <= rank < worldSize}
 * @param worldSize number of workers
 * @param job the job, the same on every worker
 */
public record WorkerTask(int rank, int worldSize, Job job) implements Serializable {
  private static final long serialVersionUID = 1L;

  public WorkerTask {
    if (worldSize < 1 || rank < 0 || rank >= worldSize) {
      throw new IllegalArgumentException("rank " + rank + " outside world of size " + worldSize);
    }
    if (job == null) {
      throw new IllegalArgumentException("WorkerTask.job is missing");
    }
  }

  /** How the workers synchronise (issue 16). */
  public enum Sync {
    /** Gradients all-reduced every step: equal to the single-process run. */
    ALLREDUCE,
    /** Local SGD: parameters averaged every {@code averageEvery} steps. */
    AVERAGE,
    /** DiLoCo (Douillard et al. 2023, arXiv:2311.08105): outer step every {@code innerSteps}. */
    DILOCO
  }

  /** How the all-reduce travels between the barrier tasks. */
  public enum Transport {
    /** The barrier only as the rendezvous, then direct TCP among the tasks. */
    SOCKET,
    /** Every exchange through the barrier's {@code allGather}, relayed by the driver. */
    BARRIER
  }

  /**
   * One data-parallel training job.
   *
   * @param io what it reads and writes
   * @param sync how the workers synchronise
   * @param hyper the trainer's hyper-parameters
   */
  public record Job(Io io, Synchronisation sync, Hyperparameters hyper) implements Serializable {
    private static final long serialVersionUID = 1L;

    public Job {
      if (io == null || sync == null || hyper == null) {
        throw new IllegalArgumentException("WorkerTask.Job needs io, sync and hyper");
      }
      if (io.checkpoints() != null && hyper.checkpointEvery() < 1) {
        throw new IllegalArgumentException(
            "train.checkpoint-every must be >= 1 with checkpoints, got " + hyper.checkpointEvery());
      }
    }

    /** This job resuming from its newest valid checkpoint (a retried barrier stage). */
    public Job resuming() {
      return new Job(io.resuming(), sync, hyper);
    }

    /**
     * The job from its {@code key = value} form: the config keys of {@code conf/train.conf} plus
     * the paths {@code curated}, {@code tokenizer}, {@code output}, {@code checkpoints}, {@code
     * resume}, {@code stop-after}. This is the one place the text is parsed, on the driver, for the
     * callers that hold text ({@code distill train --spark}, spark-submit's {@code --option});
     * other keys (teacher.*, ...) are not the trainer's and are not read.
     */
    public static Job fromOptions(Map<String, String> m) {
      String patience = m.getOrDefault("train.patience", "0").trim();
      if (!patience.equals("0")) {
        // Early stopping would need every worker to agree on the stop and restore the same copy.
        throw new IllegalArgumentException(
            "train.patience = "
                + patience
                + " (early stopping) is not supported with --spark (data-parallel); use 0");
      }
      return new Job(
          new Io(
              required(m, "curated"),
              required(m, "tokenizer"),
              required(m, "output"),
              m.get("checkpoints"),
              bool(m, "resume", "false"),
              integer(m, "stop-after", "0")),
          new Synchronisation(
              sync(required(m, "train.spark.sync")),
              integer(m, "train.spark.average-every", null),
              // The paper's defaults (H = 50 in the target, lr 0.7, momentum 0.9).
              integer(m, "train.spark.inner-steps", "50"),
              number(m, "train.spark.outer-lr", "0.7"),
              number(m, "train.spark.outer-momentum", "0.9"),
              transport(m.getOrDefault("train.spark.transport", "socket"))),
          new Hyperparameters(
              integer(m, "model.block-size", null),
              integer(m, "student.layers", null),
              integer(m, "student.heads", null),
              integer(m, "student.embd", null),
              integer(m, "student.steps", null),
              integer(m, "student.batch", null),
              number(m, "student.lr", null),
              number(m, "student.alpha", null),
              longValue(m, "run.seed"),
              required(m, "train.divergence"),
              integer(m, "train.checkpoint-every", "0"),
              integer(m, "train.accumulation-steps", "1"),
              integer(
                  m,
                  "timing.warmup-steps",
                  Integer.toString(Hyperparameters.DEFAULT_WARMUP_STEPS))));
    }

    private static Sync sync(String v) {
      return switch (v.trim()) {
        case "allreduce" -> Sync.ALLREDUCE;
        case "average" -> Sync.AVERAGE;
        case "diloco" -> Sync.DILOCO;
        default ->
            throw new IllegalArgumentException(
                "train.spark.sync must be allreduce, average or diloco, got '" + v + "'");
      };
    }

    private static Transport transport(String v) {
      return switch (v.trim()) {
        case "socket" -> Transport.SOCKET;
        case "barrier" -> Transport.BARRIER;
        default ->
            throw new IllegalArgumentException(
                "train.spark.transport must be socket or barrier, got '" + v + "'");
      };
    }

    private static String required(Map<String, String> m, String key) {
      String v = m.get(key);
      if (v == null) {
        throw new IllegalArgumentException("missing trainer option '" + key + "'");
      }
      return v;
    }

    private static String value(Map<String, String> m, String key, String dflt) {
      String v = m.get(key);
      return (v == null ? (dflt == null ? required(m, key) : dflt) : v).trim();
    }

    private static int integer(Map<String, String> m, String key, String dflt) {
      return parsed(m, key, dflt, Integer::parseInt, "an integer");
    }

    private static long longValue(Map<String, String> m, String key) {
      return parsed(m, key, null, Long::parseLong, "an integer");
    }

    private static float number(Map<String, String> m, String key, String dflt) {
      return parsed(m, key, dflt, Float::parseFloat, "a number");
    }

    private static <T> T parsed(
        Map<String, String> m, String key, String dflt, Function<String, T> parse, String what) {
      String v = value(m, key, dflt);
      try {
        return parse.apply(v);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(key + " must be " + what + ", got '" + v + "'", e);
      }
    }

    private static boolean bool(Map<String, String> m, String key, String dflt) {
      String v = value(m, key, dflt).toLowerCase(Locale.ROOT);
      if (!v.equals("true") && !v.equals("false")) {
        throw new IllegalArgumentException(key + " must be true or false, got '" + v + "'");
      }
      return v.equals("true");
    }
  }

  /**
   * What the job reads and writes.
   *
   * @param curated the curated dataset folder
   * @param tokenizer the tokenizer file
   * @param output the final model's folder
   * @param checkpoints the checkpoint folder shared by every worker; null: no checkpoints
   * @param resume every worker loads the newest valid checkpoint first
   * @param stopAfter stop after this many steps, leaving checkpoints and no model; 0: run to the
   *     end
   */
  public record Io(
      String curated,
      String tokenizer,
      String output,
      String checkpoints,
      boolean resume,
      int stopAfter)
      implements Serializable {
    private static final long serialVersionUID = 1L;

    public Io {
      nonBlank("curated", curated);
      nonBlank("tokenizer", tokenizer);
      nonBlank("output", output);
      if (checkpoints != null && checkpoints.isBlank()) {
        throw new IllegalArgumentException("checkpoints is blank (null for none)");
      }
      if (resume && checkpoints == null) {
        throw new IllegalArgumentException("resume needs the trainer option 'checkpoints'");
      }
      if (stopAfter < 0) {
        throw new IllegalArgumentException("stop-after must be >= 0, got " + stopAfter);
      }
    }

    Io resuming() {
      return new Io(curated, tokenizer, output, checkpoints, true, stopAfter);
    }
  }

  /**
   * How the workers synchronise.
   *
   * @param mode allreduce, average (local SGD) or diloco
   * @param averageEvery H of local SGD ({@code train.spark.average-every})
   * @param innerSteps H of DiLoCo ({@code train.spark.inner-steps})
   * @param outerLr DiLoCo's outer learning rate ({@code train.spark.outer-lr}, the paper's 0.7)
   * @param outerMomentum DiLoCo's outer Nesterov momentum ({@code train.spark.outer-momentum})
   * @param transport how the all-reduce travels ({@code train.spark.transport})
   */
  public record Synchronisation(
      Sync mode,
      int averageEvery,
      int innerSteps,
      float outerLr,
      float outerMomentum,
      Transport transport)
      implements Serializable {
    private static final long serialVersionUID = 1L;

    public Synchronisation {
      if (mode == null) {
        throw new IllegalArgumentException("train.spark.sync is missing");
      }
      if (transport == null) {
        throw new IllegalArgumentException("train.spark.transport is missing");
      }
      if (averageEvery < 1) {
        throw new IllegalArgumentException(
            "train.spark.average-every must be >= 1, got " + averageEvery);
      }
      if (innerSteps < 1) {
        throw new IllegalArgumentException(
            "train.spark.inner-steps must be >= 1, got " + innerSteps);
      }
      if (!(outerLr > 0) || Float.isInfinite(outerLr)) {
        throw new IllegalArgumentException("train.spark.outer-lr must be > 0, got " + outerLr);
      }
      if (!(outerMomentum >= 0 && outerMomentum < 1)) {
        throw new IllegalArgumentException(
            "train.spark.outer-momentum must be in [0, 1), got " + outerMomentum);
      }
    }
  }

  /**
   * The trainer's hyper-parameters, as the config keys name them. The divergence stays its name:
   * its type lives in {@code models}, which this module (seen by spark-jobs) must not see; the
   * trainer parses it at start.
   *
   * @param blockSize {@code model.block-size}
   * @param layers {@code student.layers}
   * @param heads {@code student.heads}
   * @param embd {@code student.embd}
   * @param steps {@code student.steps}
   * @param batch {@code student.batch}, the global batch over all workers
   * @param lr {@code student.lr}
   * @param alpha {@code student.alpha}
   * @param seed {@code run.seed}
   * @param divergence {@code train.divergence}
   * @param checkpointEvery {@code train.checkpoint-every} (0: none)
   * @param accumulationSteps {@code train.accumulation-steps}, micro-batches per worker and step
   * @param warmupSteps {@code timing.warmup-steps}, steps before the timing window opens
   */
  public record Hyperparameters(
      int blockSize,
      int layers,
      int heads,
      int embd,
      int steps,
      int batch,
      float lr,
      float alpha,
      long seed,
      String divergence,
      int checkpointEvery,
      int accumulationSteps,
      int warmupSteps)
      implements Serializable {
    private static final long serialVersionUID = 1L;

    /** Steps before {@link TrainSummary.Timing}'s window opens (JIT and allocator warm-up). */
    public static final int DEFAULT_WARMUP_STEPS = 5;

    public Hyperparameters {
      atLeast("model.block-size", blockSize, 1);
      atLeast("student.layers", layers, 1);
      atLeast("student.heads", heads, 1);
      atLeast("student.embd", embd, 1);
      atLeast("student.steps", steps, 1);
      atLeast("student.batch", batch, 1);
      if (!(lr > 0) || Float.isInfinite(lr)) {
        throw new IllegalArgumentException("student.lr must be > 0, got " + lr);
      }
      if (!(alpha >= 0 && alpha <= 1)) {
        throw new IllegalArgumentException("student.alpha must be in [0, 1], got " + alpha);
      }
      nonBlank("train.divergence", divergence);
      atLeast("train.checkpoint-every", checkpointEvery, 0);
      atLeast("train.accumulation-steps", accumulationSteps, 1);
      atLeast("timing.warmup-steps", warmupSteps, 0);
    }
  }

  private static void nonBlank(String field, String v) {
    if (v == null || v.isBlank()) {
      throw new IllegalArgumentException("missing trainer option '" + field + "'");
    }
  }

  private static void atLeast(String field, int v, int min) {
    if (v < min) {
      throw new IllegalArgumentException(field + " must be >= " + min + ", got " + v);
    }
  }
}
