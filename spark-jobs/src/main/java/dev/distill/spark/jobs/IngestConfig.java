package dev.distill.spark.jobs;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Where IngestJob reads and writes.
 *
 * @param bootstrapServers Kafka bootstrap servers
 * @param topic the teacher-outputs topic
 * @param outputPath raw Parquet folder (a streaming file sink: read it through Spark)
 * @param quarantinePath Parquet folder for undecodable messages
 * @param checkpointPath streaming checkpoint root; the job uses {@code raw/} and {@code
 *     quarantine/} under it
 * @param master Spark master; null means the active or spark-submit session's master
 * @param kafkaOptions Kafka client properties (e.g. SASL/SSL), passed to Spark as {@code
 *     kafka.<key>}; a key may already carry the {@code kafka.} prefix
 * @param processingTime null for {@code Trigger.AvailableNow()} (scheduled runs: everything
 *     committed so far, then stop); else the micro-batch interval of an always-on query ({@code
 *     Trigger.ProcessingTime}) that runs until it fails or is stopped. Spark's continuous trigger
 *     is not an option: the file sink does not support it.
 */
public record IngestConfig(
    String bootstrapServers,
    String topic,
    String outputPath,
    String quarantinePath,
    String checkpointPath,
    String master,
    Map<String, String> kafkaOptions,
    Duration processingTime) {

  public IngestConfig {
    if (processingTime != null && processingTime.isNegative()) {
      throw new IllegalArgumentException("processingTime must be >= 0, got " + processingTime);
    }
    requireText("bootstrapServers", bootstrapServers);
    requireText("topic", topic);
    requireText("outputPath", outputPath);
    requireText("quarantinePath", quarantinePath);
    requireText("checkpointPath", checkpointPath);
    if (master != null && master.isBlank()) {
      throw new IllegalArgumentException("master must be null or non-blank");
    }
    if (outputPath.equals(quarantinePath)
        || outputPath.equals(checkpointPath)
        || quarantinePath.equals(checkpointPath)) {
      throw new IllegalArgumentException(
          "output, quarantine and checkpoint paths must differ, got "
              + outputPath
              + ", "
              + quarantinePath
              + ", "
              + checkpointPath);
    }
    Map<String, String> opts = new TreeMap<>();
    for (Map.Entry<String, String> e :
        (kafkaOptions == null ? Map.<String, String>of() : kafkaOptions).entrySet()) {
      String key = Objects.requireNonNull(e.getKey(), "kafka option key");
      String bare = key.startsWith("kafka.") ? key.substring("kafka.".length()) : key;
      requireText("kafka option " + key, bare);
      if (bare.equals("isolation.level") && !"read_committed".equals(e.getValue())) {
        throw new IllegalArgumentException(
            "kafka option isolation.level must stay read_committed (aborted records would leak)");
      }
      if (bare.equals("bootstrap.servers")) {
        throw new IllegalArgumentException("set bootstrap servers with bootstrapServers");
      }
      opts.put(bare, Objects.requireNonNull(e.getValue(), "kafka option " + key));
    }
    kafkaOptions = Map.copyOf(opts);
  }

  /** A scheduled ({@code AvailableNow}) run. */
  public IngestConfig(
      String bootstrapServers,
      String topic,
      String outputPath,
      String quarantinePath,
      String checkpointPath,
      String master,
      Map<String, String> kafkaOptions) {
    this(
        bootstrapServers,
        topic,
        outputPath,
        quarantinePath,
        checkpointPath,
        master,
        kafkaOptions,
        null);
  }

  /** Whether the run is always on (processing-time trigger) rather than AvailableNow. */
  public boolean alwaysOn() {
    return processingTime != null;
  }

  /**
   * Parses {@code available-now} or {@code processing-time=DURATION} ({@code 500ms}, {@code 30s},
   * {@code 5m}) into a processing time, null for available-now.
   */
  static Duration parseTrigger(String spec) {
    String s = spec.trim();
    if (s.equals("available-now")) {
      return null;
    }
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("processing-time=([0-9]+)(ms|s|m)").matcher(s);
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "trigger must be available-now or processing-time=N(ms|s|m), got " + spec);
    }
    long n = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      default -> Duration.ofMinutes(n);
    };
  }

  /** Config for a local or active session with no extra Kafka options. */
  public IngestConfig(
      String bootstrapServers,
      String topic,
      String outputPath,
      String quarantinePath,
      String checkpointPath,
      String master) {
    this(bootstrapServers, topic, outputPath, quarantinePath, checkpointPath, master, Map.of());
  }

  /** Kafka options with sensitive values masked, for logs. */
  @Override
  public String toString() {
    Map<String, String> shown = new TreeMap<>();
    kafkaOptions.forEach((k, v) -> shown.put(k, Redaction.redact(k, v)));
    return "IngestConfig[bootstrapServers="
        + bootstrapServers
        + ", topic="
        + topic
        + ", outputPath="
        + outputPath
        + ", quarantinePath="
        + quarantinePath
        + ", checkpointPath="
        + checkpointPath
        + ", master="
        + master
        + ", kafkaOptions="
        + shown
        + ", trigger="
        + (processingTime == null ? "available-now" : "processing-time=" + processingTime)
        + "]";
  }

  static void requireText(String name, String value) {
    if (value == null || value.isBlank()) {
      throw new IllegalArgumentException(name + " must be non-blank");
    }
  }
}
