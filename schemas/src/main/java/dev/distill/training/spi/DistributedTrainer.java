package dev.distill.training.spi;

import java.util.ServiceLoader;

/**
 * A data-parallel trainer that a cluster engine runs once per worker. Implementations are found
 * with {@link ServiceLoader} ({@code META-INF/services/dev.distill.training.spi.
 * DistributedTrainer}), so the engine's module ({@code spark-jobs}, no DJL) and the trainer's
 * module ({@code student-trainer}, no Spark) never depend on each other; only the classpath of the
 * running job holds both.
 */
public interface DistributedTrainer {
  /** The name a job asks for, e.g. {@code student}. */
  String name();

  /**
   * Trains this worker's share and returns its summary. Every worker of a job gets the same
   * options; {@code task.rank()} selects its shard of the data.
   */
  TrainSummary train(WorkerTask task, AllReduce allReduce) throws Exception;

  /** The implementation called {@code name} on this thread's context class path. */
  static DistributedTrainer load(String name) {
    ClassLoader cl = Thread.currentThread().getContextClassLoader();
    for (DistributedTrainer t : ServiceLoader.load(DistributedTrainer.class, cl)) {
      if (t.name().equals(name)) {
        return t;
      }
    }
    throw new IllegalStateException(
        "no DistributedTrainer named '"
            + name
            + "' on the class path: add the student-trainer jars (and DJL) to the job's class"
            + " path, e.g. spark.driver.extraClassPath / spark.executor.extraClassPath");
  }
}
