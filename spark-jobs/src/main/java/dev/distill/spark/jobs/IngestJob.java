package dev.distill.spark.jobs;

import dev.distill.spark.transforms.KafkaRecordDecoding;
import dev.distill.spark.transforms.RawColumns;
import java.io.IOException;
import java.io.UncheckedIOException;
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
import org.apache.spark.sql.streaming.Trigger;
import org.apache.spark.sql.types.StructType;
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
 * checkpointPath}); each is exactly-once on its own.
 */
public final class IngestJob {
  private IngestJob() {}

  public static IngestResult run(IngestConfig config) {
    try (Sessions.Handle session = Sessions.open("distill-ingest", config.master())) {
      SparkSession spark = session.spark();
      long rawBefore = committedRows(spark, config.outputPath(), RawColumns.SCHEMA);
      long quarantineBefore =
          committedRows(spark, config.quarantinePath(), KafkaRecordDecoding.QUARANTINE_SCHEMA);

      Dataset<Row> decoded = KafkaRecordDecoding.decode(kafkaSource(spark, config).load());
      StreamingQuery raw =
          start(
              KafkaRecordDecoding.decoded(decoded),
              config.outputPath(),
              new Path(config.checkpointPath(), "raw").toString(),
              config);
      StreamingQuery quarantine;
      try {
        quarantine =
            start(
                KafkaRecordDecoding.quarantined(decoded),
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

      long ingested = committedRows(spark, config.outputPath(), RawColumns.SCHEMA) - rawBefore;
      long quarantined =
          committedRows(spark, config.quarantinePath(), KafkaRecordDecoding.QUARANTINE_SCHEMA)
              - quarantineBefore;
      return new IngestResult(ingested, quarantined, config.outputPath());
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

  /** Rows committed to a file-sink folder (through its {@code _spark_metadata} log); 0 if none. */
  static long committedRows(SparkSession spark, String path, StructType schema) {
    try {
      Path metadata = new Path(path, "_spark_metadata");
      if (!metadata.getFileSystem(spark.sparkContext().hadoopConfiguration()).exists(metadata)) {
        return 0;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot look at " + path, e);
    }
    return spark.read().schema(schema).parquet(path).count();
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
