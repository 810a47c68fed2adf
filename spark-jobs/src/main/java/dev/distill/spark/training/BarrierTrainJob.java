package dev.distill.spark.training;

import dev.distill.training.spi.AllReduce;
import dev.distill.training.spi.DistributedTrainer;
import dev.distill.training.spi.TrainSummary;
import dev.distill.training.spi.WorkerTask;
import java.io.IOException;
import java.io.Serializable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.SparkSession;
import scala.collection.Iterator;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

/**
 * Data-parallel training as a Spark job in barrier execution mode: one barrier stage of {@code
 * workers} tasks, all scheduled together (or none), each running a {@link DistributedTrainer} found
 * by {@link java.util.ServiceLoader} on its shard, synchronised through {@link SocketAllReduce}
 * (direct TCP among the tasks, the barrier only as the rendezvous) or, with {@value #TRANSPORT} =
 * barrier, {@link BarrierAllReduce}.
 *
 * <p>This module never sees DJL: the trainer ({@code student-trainer}, package {@code
 * dev.distill.trainer.distributed}) must be on the job's class path at run time (deploy/README.md,
 * "Training on Spark").
 */
public final class BarrierTrainJob {
  /**
   * The trainer option choosing the all-reduce transport ({@link WorkerTask.Transport}): {@code
   * socket} (default, {@link SocketAllReduce}: the barrier's {@code allGather} only as the
   * rendezvous, then direct TCP among the tasks) or {@code barrier} ({@link BarrierAllReduce}:
   * every exchange through {@code allGather}, relayed by the driver, about 1 s each because the
   * barrier polls once per second).
   */
  public static final String TRANSPORT = "train.spark.transport";

  /** Connection setup of the socket transport, after the rendezvous. */
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(120);

  /**
   * One socket exchange, waiting for the slowest worker included: generous, since a DiLoCo worker
   * reaches the exchange only after its H inner steps; a dead peer is seen at once (end of stream).
   */
  static final Duration EXCHANGE_TIMEOUT = Duration.ofMinutes(30);

  static final String USAGE =
      "usage: BarrierTrainJob --workers N [--trainer student] --option key=value... | --help"
          + " (the keys: conf/train.conf's trainer keys and curated, tokenizer, output,"
          + " checkpoints, resume, stop-after)";

  private BarrierTrainJob() {}

  /**
   * As {@link #run(String, String, int, WorkerTask.Job)} from the {@code key=value} form (the
   * {@code --option}s of {@link #main}, tests, benchmarks): parsed and validated by {@link
   * WorkerTask.Job#fromOptions} here, on the driver, before Spark starts.
   */
  public static List<TrainSummary> run(
      String master, String trainer, int workers, Map<String, String> options) {
    return run(master, trainer, workers, WorkerTask.Job.fromOptions(options));
  }

  /**
   * Runs on the active session if there is one (the embedded pipeline, tests), else on a new one
   * with {@code master} (null: from spark-submit), which it stops at the end.
   */
  public static List<TrainSummary> run(
      String master, String trainer, int workers, WorkerTask.Job job) {
    boolean existed =
        SparkSession.getActiveSession().isDefined() || SparkSession.getDefaultSession().isDefined();
    SparkSession.Builder b = SparkSession.builder().appName("distill-train");
    if (master != null) {
      b = b.master(master);
    }
    if (!existed) {
      b = b.config("spark.ui.enabled", "false");
      if (master != null && isLoopback(master)) {
        // A cluster on loopback (distill cluster start): its executors must reach the driver
        // there too, whatever this host's name resolves to.
        b =
            b.config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1");
      }
    }
    SparkSession spark = b.getOrCreate();
    try {
      return runWith(spark, trainer, workers, job);
    } finally {
      if (!existed) {
        spark.stop();
      }
    }
  }

  /** Runs on {@code spark}'s cluster and returns every worker's summary, by rank. */
  public static List<TrainSummary> runWith(
      SparkSession spark, String trainer, int workers, WorkerTask.Job job) {
    if (workers < 1) {
      throw new IllegalArgumentException("workers must be >= 1, got " + workers);
    }
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    awaitExecutors(jsc, workers);
    List<Integer> ranks = new ArrayList<>();
    for (int r = 0; r < workers; r++) {
      ranks.add(r);
    }
    RDD<TrainSummary> out =
        jsc.parallelize(ranks, workers)
            .rdd()
            .barrier()
            .mapPartitions(
                new Worker(trainer, workers, job),
                false,
                ClassTag$.MODULE$.apply(TrainSummary.class));
    // The shuffle makes the barrier stage a ShuffleMapStage. Spark 4.2's DAGScheduler retries a
    // failed barrier stage (all its tasks, a new stage attempt, up to
    // spark.stage.maxConsecutiveAttempts = 4) only when it is a ShuffleMapStage; a failed barrier
    // ResultStage is aborted ("Could not recover from a failed barrier ResultStage", because a
    // result stage may have committed output), which is what a plain collect() after the barrier
    // gave when an executor was killed (StandaloneClusterIT). The shuffle moves W summaries.
    List<TrainSummary> summaries = new ArrayList<>(out.toJavaRDD().repartition(1).collect());
    summaries.sort((a, b) -> Integer.compare(a.rank(), b.rank()));
    return summaries;
  }

  static boolean isLoopback(String master) {
    return master.startsWith("spark://127.0.0.1:") || master.startsWith("spark://localhost:");
  }

  /**
   * On a cluster, executors register after the session starts. A barrier stage with more tasks than
   * free slots fails its slot check and is retried every 15 s
   * (spark.scheduler.barrier.maxConcurrentTasksCheck.*); waiting here for {@code workers} executors
   * (at most 120 s) avoids those rounds in the usual one-core-per-executor setup.
   */
  private static void awaitExecutors(JavaSparkContext jsc, int workers) {
    if (jsc.isLocal()) {
      return;
    }
    long deadline = System.nanoTime() + 120_000_000_000L;
    while (System.nanoTime() < deadline) {
      // getExecutorInfos() lists the driver too
      if (jsc.sc().statusTracker().getExecutorInfos().length - 1 >= workers) {
        return;
      }
      try {
        Thread.sleep(250);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /** The body of one barrier task. */
  static final class Worker extends AbstractFunction1<Iterator<Integer>, Iterator<TrainSummary>>
      implements Serializable {
    private static final long serialVersionUID = 1L;
    private final String trainer;
    private final int workers;
    private final WorkerTask.Job job;

    Worker(String trainer, int workers, WorkerTask.Job job) {
      this.trainer = trainer;
      this.workers = workers;
      this.job = job;
    }

    @Override
    public Iterator<TrainSummary> apply(Iterator<Integer> partition) {
      BarrierTaskContext context = BarrierTaskContext.get();
      int rank = context.partitionId();
      WorkerTask.Job attempt = retryJob(job, context.stageAttemptNumber(), rank);
      // Every attempt of the stage runs this again: a retried attempt re-rendezvouses.
      try (AllReduceHandle allReduce = allReduce(context, job.sync().transport())) {
        TrainSummary s =
            DistributedTrainer.load(trainer)
                .train(new WorkerTask(rank, workers, attempt), allReduce.value());
        // On a cluster every barrier task should have its own executor JVM: say which it had.
        String where =
            "executor " + SparkEnv.get().executorId() + ", pid " + ProcessHandle.current().pid();
        return CollectionConverters.asScala(List.of(s.withProcess(where)).iterator());
      } catch (RuntimeException e) {
        throw e;
      } catch (Exception e) {
        throw new IllegalStateException("worker " + rank + " of " + workers + " failed", e);
      }
    }
  }

  /** The transport's all-reduce, closed (sockets, threads) when the task ends in any way. */
  private record AllReduceHandle(AllReduce value, AutoCloseable resource) implements AutoCloseable {
    @Override
    public void close() throws Exception {
      if (resource != null) {
        resource.close();
      }
    }
  }

  private static AllReduceHandle allReduce(
      BarrierTaskContext context, WorkerTask.Transport transport) throws IOException {
    if (transport == WorkerTask.Transport.BARRIER) {
      return new AllReduceHandle(new BarrierAllReduce(context), null);
    }
    int rank = context.partitionId();
    // The executor's address as the cluster knows it ("host:port"): where peers can reach us.
    String address = context.getTaskInfos()[rank].address();
    String host = address.substring(0, address.lastIndexOf(':'));
    SocketAllReduce s =
        SocketAllReduce.open(
            rank,
            context.getTaskInfos().length,
            host,
            context::allGather,
            CONNECT_TIMEOUT,
            EXCHANGE_TIMEOUT);
    return new AllReduceHandle(s, s);
  }

  /**
   * The job of one attempt of the barrier stage. When a worker fails (an executor JVM lost, a task
   * error), Spark fails the whole barrier stage and runs every task again as a new stage attempt
   * (up to {@code spark.stage.maxConsecutiveAttempts}, default 4), with the same closure, hence the
   * same job (the barrier stage is a ShuffleMapStage for that, see {@link #runWith}). A retry must
   * not start over: from attempt 1 on, a job that writes checkpoints resumes from the newest valid
   * one, so it ends on the uninterrupted run's model (issue 16, ask 3). A job without checkpoints
   * starts over, which gives the same model too (data order and initialisation are functions of the
   * seed), only later.
   */
  static WorkerTask.Job retryJob(WorkerTask.Job job, int stageAttempt, int rank) {
    if (stageAttempt == 0 || job.io().checkpoints() == null) {
      return job;
    }
    if (rank == 0) {
      System.err.printf(
          "[train] barrier stage attempt %d: resuming from the checkpoints in %s%n",
          stageAttempt, job.io().checkpoints());
    }
    return job.resuming();
  }

  public static void main(String[] args) {
    int workers = -1;
    String trainer = "student";
    Map<String, String> options = new LinkedHashMap<>();
    WorkerTask.Job job;
    try {
      for (int i = 0; i < args.length; i++) {
        String name = args[i];
        if (name.equals("--help") || name.equals("-h")) {
          System.out.println(USAGE);
          return;
        }
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException("missing value for " + name);
        }
        String value = args[++i];
        switch (name) {
          case "--workers" -> workers = Integer.parseInt(value);
          case "--trainer" -> trainer = value;
          case "--option" -> {
            int eq = value.indexOf('=');
            if (eq <= 0) {
              throw new IllegalArgumentException("--option wants key=value, got " + value);
            }
            options.put(value.substring(0, eq), value.substring(eq + 1));
          }
          default -> throw new IllegalArgumentException("unknown option " + name);
        }
      }
      if (workers < 1) {
        throw new IllegalArgumentException("--workers N (>= 1) is required");
      }
      job = WorkerTask.Job.fromOptions(options); // a bad option fails here, not on the executors
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      System.err.println(USAGE);
      System.exit(2);
      return;
    }
    SparkSession spark = SparkSession.builder().appName("distill-train").getOrCreate();
    try {
      for (TrainSummary s : runWith(spark, trainer, workers, job)) {
        System.err.println(s);
        if (!s.output().isEmpty()) {
          System.out.println(s.output());
        }
      }
    } catch (RuntimeException e) {
      System.err.println("failed: " + e);
      e.printStackTrace(System.err);
      spark.stop();
      System.exit(1);
    }
    spark.stop();
  }
}
