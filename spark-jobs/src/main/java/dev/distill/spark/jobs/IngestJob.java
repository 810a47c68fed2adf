package dev.distill.spark.jobs;

import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;

import dev.distill.spark.transforms.KafkaRecordDecoding;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.DataStreamReader;
import org.apache.spark.sql.streaming.StreamingQuery;
import org.apache.spark.sql.streaming.StreamingQueryException;
import org.apache.spark.sql.streaming.StreamingQueryListener;
import org.apache.spark.sql.streaming.Trigger;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Kafka teacher-outputs topic to raw Parquet, exactly once: Structured Streaming from the earliest
 * offsets with {@code read_committed} (aborted transactions never appear), {@code
 * Trigger.AvailableNow()} (everything committed so far, then stop; for schedulers) or an always-on
 * {@code Trigger.ProcessingTime} query (runs until stopped or failed), checkpointed so the next run
 * starts where this one ended, also after a kill. Messages are decoded with plain Avro in {@code
 * mapPartitions}; the file sink's {@code _spark_metadata} log is the commit record, so readers must
 * read the folder through Spark. Undecodable messages go to the quarantine folder with their bytes,
 * Kafka coordinates and reason.
 *
 * <p>Two queries run side by side (one per sink, each with its own checkpoint under {@code
 * checkpointPath}); each is exactly-once on its own. Each decodes a message once and builds only
 * its own rows. The counts of a run are observed on the micro-batches that write them ({@code
 * Dataset.observe}, read from the queries' progress events): no Spark job exists only to count
 * (issue 14), so an AvailableNow run with new data is one Spark job per query and micro-batch. Each
 * micro-batch writes at most one file per Kafka partition (a Spark task per partition).
 */
public final class IngestJob {
  private IngestJob() {}

  public static IngestResult run(IngestConfig config) {
    try (Sessions.Handle session = Sessions.open("distill-ingest", config.master())) {
      SparkSession spark = session.spark();
      Dataset<Row> kafka = kafkaSource(spark, config).load();
      ObservedRows counts = new ObservedRows();
      spark.streams().addListener(counts);
      try {
        StreamingQuery raw =
            start(
                counts.observe(KafkaRecordDecoding.raw(kafka), "raw"),
                config.outputPath(),
                new Path(config.checkpointPath(), "raw").toString(),
                config);
        StreamingQuery quarantine;
        try {
          quarantine =
              start(
                  counts.observe(KafkaRecordDecoding.quarantine(kafka), "quarantine"),
                  config.quarantinePath(),
                  new Path(config.checkpointPath(), "quarantine").toString(),
                  config);
        } catch (RuntimeException e) {
          stopQuietly(raw);
          throw e;
        }
        if (config.alwaysOn()) {
          System.err.println(
              "ingest always on, micro-batch every " + config.processingTime() + ": " + raw.id());
          awaitEither(spark, raw, quarantine);
        } else {
          awaitBoth(raw, quarantine);
        }
        counts.awaitTerminated(raw.id(), quarantine.id());
        return new IngestResult(counts.rows("raw"), counts.rows("quarantine"), config.outputPath());
      } finally {
        spark.streams().removeListener(counts);
      }
    }
  }

  /**
   * Rows written by this run's queries, summed from the {@code observe}d count of each
   * micro-batch's progress event. A metric name is unique to the run, so other queries of the
   * session do not count; a batch re-run after a crash counts in the run that commits it.
   */
  static final class ObservedRows extends StreamingQueryListener {
    private static final long TERMINATION_WAIT_MS = 60_000;
    private final String prefix = "distill-ingest-" + java.util.UUID.randomUUID() + "-";
    private final Map<String, Long> rows = new java.util.concurrent.ConcurrentHashMap<>();
    private final java.util.Set<java.util.UUID> terminated =
        java.util.concurrent.ConcurrentHashMap.newKeySet();

    Dataset<Row> observe(Dataset<Row> rows, String name) {
      return rows.observe(prefix + name, count(lit(1)).as("rows"));
    }

    long rows(String name) {
      return rows.getOrDefault(prefix + name, 0L);
    }

    /** Waits until the listener has seen both queries end: their last progress came before. */
    void awaitTerminated(java.util.UUID a, java.util.UUID b) {
      long deadline = System.currentTimeMillis() + TERMINATION_WAIT_MS;
      synchronized (this) {
        while (!(terminated.contains(a) && terminated.contains(b))) {
          long left = deadline - System.currentTimeMillis();
          if (left <= 0) {
            throw new IllegalStateException(
                "ingest finished but Spark did not report the end of its queries within "
                    + TERMINATION_WAIT_MS
                    + " ms: the counts of this run are unknown (the data is committed)");
          }
          try {
            wait(left);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for ingest's counts", e);
          }
        }
      }
    }

    @Override
    public void onQueryStarted(QueryStartedEvent event) {}

    @Override
    public void onQueryProgress(QueryProgressEvent event) {
      Map<String, Row> observed = event.progress().observedMetrics();
      if (observed == null) {
        return;
      }
      observed.forEach(
          (name, row) -> {
            if (name.startsWith(prefix)) {
              rows.merge(name, row.getLong(0), Long::sum);
            }
          });
    }

    @Override
    public void onQueryIdle(QueryIdleEvent event) {}

    @Override
    public void onQueryTerminated(QueryTerminatedEvent event) {
      synchronized (this) {
        terminated.add(event.id());
        notifyAll();
      }
    }
  }

  static DataStreamReader kafkaSource(SparkSession spark, IngestConfig config) {
    Map<String, String> options = new LinkedHashMap<>();
    config.kafkaOptions().forEach((k, v) -> options.put("kafka." + k, v));
    options.put("kafka.bootstrap.servers", config.bootstrapServers());
    options.put("kafka.isolation.level", "read_committed");
    options.put("subscribe", config.topic());
    options.put("startingOffsets", "earliest");
    return spark.readStream().format("kafka").options(options);
  }

  private static StreamingQuery start(
      Dataset<Row> rows, String path, String checkpoint, IngestConfig config) {
    Trigger trigger =
        config.alwaysOn()
            ? Trigger.ProcessingTime(config.processingTime().toMillis())
            : Trigger.AvailableNow();
    try {
      return rows.writeStream()
          .format("parquet")
          .option("path", path)
          .option("checkpointLocation", checkpoint)
          .option("compression", "zstd")
          .trigger(trigger)
          .start();
    } catch (TimeoutException e) {
      throw new IllegalStateException("streaming query to " + path + " did not start", e);
    }
  }

  private static void awaitBoth(StreamingQuery a, StreamingQuery b) {
    try {
      a.awaitTermination();
      b.awaitTermination();
    } catch (StreamingQueryException e) {
      stopQuietly(a);
      stopQuietly(b);
      throw Failures.of("ingest", e);
    }
  }

  /**
   * Always on: returns when either query stops (then stops the other), throws when either failed. A
   * query stopped from outside (another thread, {@code spark.streams()}) ends the run normally.
   */
  private static void awaitEither(SparkSession spark, StreamingQuery a, StreamingQuery b) {
    try {
      spark.streams().awaitAnyTermination();
    } catch (StreamingQueryException e) {
      stopQuietly(a);
      stopQuietly(b);
      throw Failures.of("ingest", e);
    }
    stopQuietly(a);
    stopQuietly(b);
    for (StreamingQuery q : new StreamingQuery[] {a, b}) {
      if (q.exception().isDefined()) {
        throw new IllegalStateException(
            "ingest failed: " + q.exception().get().getMessage(), q.exception().get());
      }
    }
  }

  private static void stopQuietly(StreamingQuery q) {
    try {
      q.stop();
    } catch (Exception ignored) {
      // best effort: the other query's failure is what the caller needs to see
    }
  }

  public static void main(String[] args) {
    JobCli.main(new Cli(), args);
  }

  /** IngestJob's command line. */
  static final class Cli extends JobCli.JobCommand<IngestConfig> {
    @Option(
        names = "--bootstrap-servers",
        required = true,
        paramLabel = "HOST:PORT",
        description = "Kafka bootstrap servers.")
    String bootstrapServers;

    @Option(
        names = "--topic",
        required = true,
        paramLabel = "T",
        description = "Topic of teacher outputs.")
    String topic;

    @Mixin JobCli.Output output;

    @Option(
        names = "--quarantine",
        required = true,
        paramLabel = "DIR",
        description = "Folder for records that do not decode.")
    String quarantine;

    @Option(
        names = "--checkpoint",
        required = true,
        paramLabel = "DIR",
        description = "Streaming checkpoint (a re-run resumes).")
    String checkpoint;

    @Option(
        names = "--kafka-option",
        paramLabel = "key=value",
        description = "Repeatable: a Kafka consumer setting.")
    List<String> kafkaOptions = new ArrayList<>();

    @Option(
        names = "--trigger",
        paramLabel = "available-now|processing-time=30s",
        defaultValue = "available-now",
        description = "Run once over what is there, or always on (default ${DEFAULT-VALUE}).")
    String trigger;

    @Override
    void run(IngestConfig config) throws Exception {
      IngestResult result = IngestJob.run(config);
      System.err.printf(
          "ingested %d rows, quarantined %d%n", result.ingested(), result.quarantined());
      System.out.println(result.outputPath());
    }

    @Override
    IngestConfig config() {
      Map<String, String> kafka = new LinkedHashMap<>();
      for (String kv : kafkaOptions) {
        int eq = kv.indexOf('=');
        if (eq <= 0) {
          throw new JobCli.UsageException("--kafka-option wants key=value, got " + kv);
        }
        kafka.put(kv.substring(0, eq), kv.substring(eq + 1));
      }
      return new IngestConfig(
          bootstrapServers,
          topic,
          output.dir,
          quarantine,
          checkpoint,
          null,
          kafka,
          IngestConfig.parseTrigger(trigger));
    }
  }
}
