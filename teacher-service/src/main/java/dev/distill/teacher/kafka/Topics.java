package dev.distill.teacher.kafka;

import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.InvalidReplicationFactorException;
import org.apache.kafka.common.errors.TopicExistsException;

/** Creates the pipeline's topics when they are missing. */
public final class Topics {
  private Topics() {}

  /**
   * The cluster has fewer brokers than the replication factor asked for (issue 17: a one-broker
   * cluster and the default factor of 3 used to say only "cannot create topic X").
   */
  public static final class ReplicationFactorTooHigh extends IllegalStateException {
    private final int brokers;

    ReplicationFactorTooHigh(String topic, short replication, int brokers, Throwable cause) {
      super(
          "cannot create topic "
              + topic
              + ": replication factor "
              + replication
              + " > "
              + (brokers < 0 ? "the" : Integer.toString(brokers))
              + " broker(s) in the cluster",
          cause);
      this.brokers = brokers;
    }

    /** Brokers in the cluster; -1 when they could not be counted. */
    public int brokers() {
      return brokers;
    }
  }

  /**
   * Creates {@code topic} unless it exists.
   *
   * @throws ReplicationFactorTooHigh the cluster has fewer brokers than {@code replication}
   * @throws IllegalStateException any other failure, with Kafka's reason in the message
   */
  public static void ensure(
      String bootstrapServers,
      Map<String, String> clientOverrides,
      String topic,
      int partitions,
      short replication) {
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    props.putAll(clientOverrides);
    try (Admin admin = Admin.create(props)) {
      try {
        admin.createTopics(List.of(new NewTopic(topic, partitions, replication))).all().get();
      } catch (ExecutionException e) {
        Throwable cause = e.getCause();
        if (cause instanceof TopicExistsException) {
          return;
        }
        if (cause instanceof InvalidReplicationFactorException) {
          throw new ReplicationFactorTooHigh(topic, replication, brokers(admin), cause);
        }
        throw new IllegalStateException(
            "cannot create topic " + topic + ": " + cause.getMessage(), cause);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted creating topic " + topic, e);
    }
  }

  private static int brokers(Admin admin) throws InterruptedException {
    try {
      return admin.describeCluster().nodes().get(10, TimeUnit.SECONDS).size();
    } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
      return -1;
    }
  }
}
