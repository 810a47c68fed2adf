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

  /** A job's work on its session. */
  interface Body<R> {
    R run(SparkSession spark) throws Exception;
  }

  /**
   * The shape every batch job shares: open a session ({@link #open(String, String, String)}), run
   * {@code body} on it, stop the session if this call created it. A failure becomes one sentence
   * naming {@code what} ({@link Failures#of}); a {@link JobFailedException} (already a sentence)
   * and an {@link IllegalArgumentException} (a usage error, exit code 2) pass as they are.
   */
  static <R> R run(String appName, String master, String eventLogDir, String what, Body<R> body) {
    try (Handle session = open(appName, master, eventLogDir)) {
      return body.run(session.spark());
    } catch (JobFailedException | IllegalArgumentException e) {
      throw e;
    } catch (Exception e) {
      throw Failures.of(what, e);
    }
  }

  static Handle open(String appName, String master) {
    return open(appName, master, null);
  }

  /**
   * As {@link #open(String, String)}; a session created here writes Spark's event log into {@code
   * eventLogDir} (created if missing; null: off) unless the Spark configuration (spark-submit's
   * {@code --conf}, spark-defaults) already says where, so the run can be opened in the Spark
   * history server ({@code spark.history.fs.logDirectory}).
   */
  static Handle open(String appName, String master, String eventLogDir) {
    boolean existed =
        SparkSession.getActiveSession().isDefined() || SparkSession.getDefaultSession().isDefined();
    SparkSession.Builder b = SparkSession.builder().appName(appName);
    if (master != null) {
      b = b.master(master);
    }
    if (!existed) {
      b = b.config("spark.ui.enabled", "false");
      org.apache.spark.SparkConf given = new org.apache.spark.SparkConf();
      if (eventLogDir != null && !given.contains("spark.eventLog.enabled")) {
        try {
          org.apache.hadoop.fs.Path dir = new org.apache.hadoop.fs.Path(eventLogDir);
          dir.getFileSystem(new org.apache.hadoop.conf.Configuration()).mkdirs(dir);
          b = b.config("spark.eventLog.enabled", "true").config("spark.eventLog.dir", eventLogDir);
        } catch (java.io.IOException e) {
          System.err.println(
              "warning: no Spark event log, cannot create " + eventLogDir + ": " + e);
        }
      }
    }
    return new Handle(b.getOrCreate(), !existed);
  }
}
