package dev.distill.spark.jobs;

import org.apache.spark.sql.SparkSession;

/**
 * How jobs get a session: the active (or default) one when there is one, else a new one. A job
 * stops only a session it created, so the embedded pipeline can run several jobs in one JVM.
 */
final class Sessions {
  private Sessions() {}

  /** A session and whether this call created it. */
  record Handle(SparkSession spark, boolean created) implements AutoCloseable {
    @Override
    public void close() {
      if (created) {
        spark.stop();
      }
    }
  }

  static Handle open(String appName, String master) {
    boolean existed =
        SparkSession.getActiveSession().isDefined() || SparkSession.getDefaultSession().isDefined();
    SparkSession.Builder b = SparkSession.builder().appName(appName);
    if (master != null) {
      b = b.master(master);
    }
    if (!existed) {
      b = b.config("spark.ui.enabled", "false");
    }
    return new Handle(b.getOrCreate(), !existed);
  }
}
