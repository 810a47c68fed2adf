package dev.distill.deploy.kafka;

import dev.distill.teacher.kafka.ChildKafkaBroker;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * The local pipeline's broker: teacher-service's {@link ChildKafkaBroker} (a real single-node KRaft
 * broker in a child JVM, bound to loopback, its log dir under the run folder) with the pipeline's
 * settings, stopped by {@link #close} and by a shutdown hook on Ctrl-C.
 *
 * <p>A separate process rather than in-process: the broker's own threads and logging stay out of
 * the pipeline's JVM, and {@link #close} really stops it.
 */
public final class EmbeddedKafka implements AutoCloseable {
  /** Two partitions per topic; no topic appears by accident (the pipeline creates its own). */
  private static final Map<String, String> SETTINGS =
      Map.of(
          "num.partitions", "2",
          "offsets.topic.num.partitions", "4",
          "transaction.state.log.num.partitions", "4",
          "auto.create.topics.enable", "false");

  private final ChildKafkaBroker broker;
  private final Thread shutdownHook;

  private EmbeddedKafka(ChildKafkaBroker broker) {
    this.broker = broker;
    this.shutdownHook = new Thread(broker::stop, "embedded-kafka-shutdown");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
  }

  /**
   * Formats storage under {@code dir} and starts the broker; returns once it accepts connections.
   */
  public static EmbeddedKafka start(Path dir, Duration timeout) throws IOException {
    EmbeddedKafka kafka = new EmbeddedKafka(ChildKafkaBroker.format(dir, SETTINGS));
    try {
      kafka.broker.start(timeout);
    } catch (IOException | RuntimeException e) {
      kafka.close();
      throw e;
    }
    return kafka;
  }

  public String bootstrapServers() {
    return broker.bootstrapServers();
  }

  public boolean isAlive() {
    return broker.isAlive();
  }

  @Override
  public void close() {
    broker.stop();
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException shuttingDown) {
      // already in shutdown: the hook runs or ran
    }
  }
}
