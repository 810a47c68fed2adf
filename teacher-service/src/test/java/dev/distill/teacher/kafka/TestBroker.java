package dev.distill.teacher.kafka;

import java.util.HashMap;
import java.util.Map;
import kafka.testkit.KafkaClusterTestKit;
import kafka.testkit.TestKitNodes;

/**
 * The integration tests' Kafka fixture: a real single-node KRaft cluster (combined broker and
 * controller) in the test JVM, one per test class, with the one-broker settings of REFERENCE.md
 * plus the class's own. Tests that kill and restart a broker use {@link ChildKafkaBroker}.
 */
final class TestBroker {
  private TestBroker() {}

  /**
   * What the service-mode tests and benchmarks run against: small internal topics (3 partitions)
   * and no initial rebalance delay, so a consumer group forms at once, plus {@code extra}.
   */
  static KafkaClusterTestKit startForService(Map<String, String> extra) throws Exception {
    Map<String, String> settings = new HashMap<>(extra);
    settings.put("offsets.topic.num.partitions", "3");
    settings.put("transaction.state.log.num.partitions", "3");
    settings.put("group.initial.rebalance.delay.ms", "0");
    return start(settings);
  }

  /** Formats and starts the cluster; returns once its broker is ready. */
  static KafkaClusterTestKit start(Map<String, String> settings) throws Exception {
    KafkaClusterTestKit.Builder builder =
        new KafkaClusterTestKit.Builder(
                new TestKitNodes.Builder()
                    .setCombined(true)
                    .setNumBrokerNodes(1)
                    .setNumControllerNodes(1)
                    .build())
            .setConfigProp("offsets.topic.replication.factor", "1")
            .setConfigProp("transaction.state.log.replication.factor", "1")
            .setConfigProp("transaction.state.log.min.isr", "1");
    settings.forEach(builder::setConfigProp);
    KafkaClusterTestKit cluster = builder.build();
    cluster.format();
    cluster.startup();
    cluster.waitForReadyBrokers();
    return cluster;
  }
}
