package dev.distill.training.spi;

/**
 * Collective sum across the workers of one data-parallel job. Every worker calls {@link #sum} the
 * same number of times with arrays of the same length, and every worker gets the same result (the
 * implementation sums in rank order, so the float rounding is identical on every worker).
 *
 * <p>This is the whole boundary between the cluster engine and the trainer: Spark implements it
 * over sockets among its barrier tasks (or, {@code train.spark.transport = barrier}, with {@code
 * BarrierTaskContext.allGather}) in {@code spark-jobs}, without knowing DJL; the trainer in {@code
 * student-trainer} calls it, without knowing Spark.
 */
public interface AllReduce {
  /** The element-wise sum of {@code local} over all workers. Blocks until every worker called. */
  float[] sum(float[] local);

  /**
   * Bytes this worker sent through {@link #sum} so far (payload, before any encoding): 4 per float
   * per receiver (the driver for the barrier transport, each of the W - 1 peers for sockets).
   */
  long bytesSent();

  /** One worker alone: the sum is its own array. */
  static AllReduce single() {
    return new AllReduce() {
      private long sent;

      @Override
      public float[] sum(float[] local) {
        sent += 4L * local.length;
        return local.clone();
      }

      @Override
      public long bytesSent() {
        return sent;
      }
    };
  }
}
