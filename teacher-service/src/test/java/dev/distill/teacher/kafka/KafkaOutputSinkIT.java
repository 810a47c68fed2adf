package dev.distill.teacher.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.distill.schemas.TestRecords;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.encoding.SingleObjectEncoding;
import dev.distill.teacher.TeacherServiceMain;
import dev.distill.teacher.TestTeachers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import kafka.testkit.KafkaClusterTestKit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Kafka sink against a real single-node KRaft broker (one per class), and {@code
 * teacher-service batch} ({@code distill label}) producing to it.
 */
class KafkaOutputSinkIT {
  static KafkaClusterTestKit cluster;

  @BeforeAll
  static void startBroker() throws Exception {
    cluster = TestBroker.start(Map.of());
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

  @Test
  void labelCommandProducesEveryPromptExactlyOnceInCommittedTransactions() throws Exception {
    Path dir = Files.createTempDirectory("label-kafka-it");
    Path ckpt = dir.resolve("teacher");
    TestTeachers.tinyCheckpoint(ckpt, Map.of());
    StringBuilder jsonl = new StringBuilder(TestTeachers.jsonlPrompts(12, 5));
    jsonl.append("{\"prompt_id\":\"bad\",\"text\":\"hash # sign\"}\n"); // untokenizable
    Path input = dir.resolve("prompts.jsonl");
    Files.writeString(input, jsonl);
    String topic = "labels-2026-01-02";
    String[] args = {
      "batch",
      "--checkpoint",
      ckpt.toString(),
      "--top-k",
      "4",
      "--chunk-positions",
      "16",
      "--token-budget",
      "32", // several teacher batches, so several transactions
      "--input",
      input.toString(),
      "--run-id",
      "2026-01-02",
      "--bootstrap-servers",
      cluster.bootstrapServers(),
      "--outputs-topic",
      topic,
      "--create-topic",
      "--topic-partitions",
      "2",
      "--topic-replication",
      "1"
    };
    assertThat(TeacherServiceMain.execute(args)).isZero();

    // Chunks per prompt: positions = length - 1, cut into chunks of at most 16 positions.
    Map<String, Integer> expectedChunks = new TreeMap<>();
    for (int i = 0; i < 12; i++) {
      expectedChunks.put("p" + i, (6 * (1 + i % 5) - 1 + 15) / 16);
    }
    int expected = expectedChunks.values().stream().mapToInt(Integer::intValue).sum();
    List<TeacherOutput> seen = readCommitted(topic, expected);
    Map<String, Integer> chunks = new TreeMap<>();
    Set<String> keys = new HashSet<>();
    for (TeacherOutput r : seen) {
      chunks.merge(r.getPromptId().toString(), 1, Integer::sum);
      // Record ids are content addresses (p0 and p5 have the same text, so the same id): a
      // delivery is identified by prompt and chunk.
      assertThat(keys.add(r.getPromptId() + "#" + r.getChunkIndex()))
          .as("prompt %s chunk %d seen twice", r.getPromptId(), r.getChunkIndex())
          .isTrue();
      assertThat(r.getRunId().toString()).isEqualTo("2026-01-02");
    }
    // Every accepted prompt exactly once (all its chunks, no duplicate); the rejected one absent.
    assertThat(chunks).isEqualTo(expectedChunks);
    assertThat(seen).hasSize(expected);
  }

  @Test
  void labelCommandWithoutOutputOrBrokerIsAUsageError() throws Exception {
    Path input = Files.createTempFile("prompts", ".jsonl");
    Files.writeString(input, "{\"prompt_id\":\"a\",\"text\":\"abc\"}\n");
    int code =
        TeacherServiceMain.execute(
            "batch", "--checkpoint", "/nonexistent", "--input", input.toString(), "--run-id", "r");
    assertThat(code).isEqualTo(2);
  }

  @Test
  void createTopicOnAOneBrokerClusterNamesTheCauseAndTheFix() throws Exception {
    assertThatThrownBy(
            () -> Topics.ensure(cluster.bootstrapServers(), Map.of(), "rf3", 1, (short) 3))
        .isInstanceOf(Topics.ReplicationFactorTooHigh.class)
        .hasMessage("cannot create topic rf3: replication factor 3 > 1 broker(s) in the cluster");
    Path input = Files.createTempFile("prompts", ".jsonl");
    Files.writeString(input, "{\"prompt_id\":\"a\",\"text\":\"abc\"}\n");
    java.io.StringWriter err = new java.io.StringWriter();
    int code =
        new picocli.CommandLine(new TeacherServiceMain())
            .setErr(new java.io.PrintWriter(err))
            .execute(
                "batch",
                "--checkpoint",
                "/nonexistent",
                "--input",
                input.toString(),
                "--run-id",
                "r",
                "--bootstrap-servers",
                cluster.bootstrapServers(),
                "--outputs-topic",
                "rf3-cli",
                "--create-topic");
    assertThat(code).isEqualTo(1);
    assertThat(err.toString())
        .contains("replication factor 3 > 1 broker(s)")
        .contains("give --topic-replication 1");
  }
}
