package dev.distill.spark;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Properties;
import kafka.testkit.KafkaClusterTestKit;
import kafka.testkit.TestKitNodes;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * spark-jobs' Kafka fixture for integration tests and benchmarks: a real single-node KRaft cluster
 * (combined broker and controller) in the test JVM, with the one-broker settings of REFERENCE.md
 * (spark-jobs may not depend on teacher-service, whose tests have the same fixture).
 */
public final class KafkaTestCluster implements AutoCloseable {
  private final KafkaClusterTestKit kafka;
  private int producers;

  private KafkaTestCluster(KafkaClusterTestKit kafka) {
    this.kafka = kafka;
  }

  /** Formats and starts the cluster; returns once its broker is ready. */
  public static KafkaTestCluster start() throws Exception {
    KafkaClusterTestKit kafka =
        new KafkaClusterTestKit.Builder(
                new TestKitNodes.Builder()
                    .setCombined(true)
                    .setNumBrokerNodes(1)
                    .setNumControllerNodes(1)
                    .build())
            .setConfigProp("offsets.topic.replication.factor", "1")
            .setConfigProp("offsets.topic.num.partitions", "1")
            .setConfigProp("transaction.state.log.replication.factor", "1")
            .setConfigProp("transaction.state.log.min.isr", "1")
            .setConfigProp("transaction.state.log.num.partitions", "1")
            .setConfigProp("group.initial.rebalance.delay.ms", "0")
            .build();
    kafka.format();
    kafka.startup();
    kafka.waitForReadyBrokers();
    return new KafkaTestCluster(kafka);
  }

  public String bootstrapServers() {
    return kafka.bootstrapServers();
  }

  public void createTopic(String topic, int partitions) throws Exception {
    try (Admin admin = Admin.create(kafka.clientProperties())) {
      admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
    }
  }

  /** A transactional producer of byte keys and values, its transactions initialised. */
  public synchronized KafkaProducer<byte[], byte[]> transactionalProducer() {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "spark-jobs-test-producer-" + producers++);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p);
    producer.initTransactions();
    return producer;
  }

  /** A record keyed by {@code id}, its value {@code value}. */
  public static ProducerRecord<byte[], byte[]> message(String topic, String id, byte[] value) {
    return new ProducerRecord<>(topic, id.getBytes(StandardCharsets.UTF_8), value);
  }

  /** Sends {@code records} in one committed transaction. */
  public static void sendCommitted(
      KafkaProducer<byte[], byte[]> producer, List<ProducerRecord<byte[], byte[]>> records) {
    producer.beginTransaction();
    records.forEach(producer::send);
    producer.commitTransaction();
  }

  @Override
  public void close() throws Exception {
    kafka.close();
  }
}
