package dev.distill.teacher.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.schemas.TestRecords;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.encoding.SingleObjectEncoding;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import kafka.testkit.KafkaClusterTestKit;
import kafka.testkit.TestKitNodes;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The Kafka sink against a real single-node KRaft broker (one per class). */
class KafkaOutputSinkIT {
  static KafkaClusterTestKit cluster;

  @BeforeAll
  static void startBroker() throws Exception {
    cluster =
        new KafkaClusterTestKit.Builder(
                new TestKitNodes.Builder()
                    .setCombined(true)
                    .setNumBrokerNodes(1)
                    .setNumControllerNodes(1)
                    .build())
            .setConfigProp("offsets.topic.replication.factor", "1")
            .setConfigProp("transaction.state.log.replication.factor", "1")
            .setConfigProp("transaction.state.log.min.isr", "1")
            .build();
    cluster.format();
    cluster.startup();
    cluster.waitForReadyBrokers();
  }

  @AfterAll
  static void stopBroker() throws Exception {
    cluster.close();
  }

  private static List<TeacherOutput> readCommitted(String topic, int expectAtLeast) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrapServers());
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "test-" + System.nanoTime());
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    List<TeacherOutput> out = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> c =
        new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
      c.subscribe(List.of(topic));
      long deadline = System.currentTimeMillis() + 15_000;
      int emptyPolls = 0;
      while (System.currentTimeMillis() < deadline
          && (out.size() < expectAtLeast || emptyPolls < 3)) {
        var records = c.poll(Duration.ofMillis(500));
        emptyPolls = records.isEmpty() ? emptyPolls + 1 : 0;
        for (ConsumerRecord<String, byte[]> r : records) {
          TeacherOutput t = SingleObjectEncoding.decodeTeacherOutput(r.value());
          assertThat(r.key()).isEqualTo(t.getRecordId());
          out.add(t);
        }
      }
    }
    return out;
  }

  @Test
  void committedTransactionIsVisibleToReadCommittedConsumersAndAbortedIsNot() throws Exception {
    String topic = "outputs-tx";
    Topics.ensure(cluster.bootstrapServers(), Map.of(), topic, 2, (short) 1);
    try (KafkaOutputSink sink =
        new KafkaOutputSink(cluster.bootstrapServers(), topic, "tx-ok", Map.of())) {
      sink.write(List.of(TestRecords.teacherOutput("a", 4), TestRecords.teacherOutput("b", 4)));
      sink.write(List.of(TestRecords.teacherOutput("c", 4)));
      sink.commit();
      assertThat(sink.sent()).isEqualTo(3);
    }
    try (KafkaOutputSink sink =
        new KafkaOutputSink(cluster.bootstrapServers(), topic, "tx-abandoned", Map.of())) {
      sink.write(List.of(TestRecords.teacherOutput("never", 4)));
      // closed without commit: the open transaction is aborted
    }
    List<TeacherOutput> seen = readCommitted(topic, 3);
    assertThat(seen)
        .extracting(TeacherOutput::getRecordId)
        .containsExactlyInAnyOrder("a", "b", "c");
  }

  @Test
  void idempotentSinkWithoutTransactionsDeliversOnCommit() throws Exception {
    String topic = "outputs-plain";
    Topics.ensure(cluster.bootstrapServers(), Map.of(), topic, 1, (short) 1);
    Topics.ensure(cluster.bootstrapServers(), Map.of(), topic, 1, (short) 1); // idempotent
    try (KafkaOutputSink sink =
        new KafkaOutputSink(cluster.bootstrapServers(), topic, null, Map.of())) {
      sink.write(List.of(TestRecords.teacherOutput("x", 3)));
      sink.commit();
    }
    assertThat(readCommitted(topic, 1)).extracting(TeacherOutput::getRecordId).containsExactly("x");
  }
}
