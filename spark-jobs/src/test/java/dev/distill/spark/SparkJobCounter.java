package dev.distill.spark;

import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.sql.SparkSession;

/**
 * Counts the Spark jobs started and stages completed while a piece of code runs, as the event log
 * records them (issue 14: a job's cost in jobs and stages, before and after a change).
 */
public final class SparkJobCounter extends SparkListener {
  private final AtomicInteger jobs = new AtomicInteger();
  private final AtomicInteger stages = new AtomicInteger();

  /** What {@code body} returned, and the jobs and stages it ran. */
  public record Counted<T>(T value, int jobs, int stages) {}

  /** Runs {@code body} with a counter on {@code spark}'s listener bus. */
  public static <T> Counted<T> count(SparkSession spark, Callable<T> body) throws Exception {
    SparkJobCounter counter = new SparkJobCounter();
    spark.sparkContext().listenerBus().waitUntilEmpty();
    spark.sparkContext().addSparkListener(counter);
    T value;
    try {
      value = body.call();
      spark.sparkContext().listenerBus().waitUntilEmpty();
    } finally {
      spark.sparkContext().removeSparkListener(counter);
    }
    return new Counted<>(value, counter.jobs.get(), counter.stages.get());
  }

  @Override
  public void onJobStart(SparkListenerJobStart e) {
    jobs.incrementAndGet();
  }

  @Override
  public void onStageCompleted(SparkListenerStageCompleted e) {
    stages.incrementAndGet();
  }
}
