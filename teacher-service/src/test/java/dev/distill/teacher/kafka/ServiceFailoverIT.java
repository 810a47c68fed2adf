package dev.distill.teacher.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.schemas.avro.Prompt;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.encoding.SingleObjectEncoding;
import dev.distill.teacher.TeacherServiceMain;
import dev.distill.teacher.TestTeachers;
import dev.distill.teacher.inference.LocalTeacher;
import dev.distill.teacher.labeling.PromptLabeler;
import dev.distill.teacher.service.TeacherMetrics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import kafka.testkit.KafkaClusterTestKit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Service instances as real processes ({@link TeacherServiceMain} in a child JVM) against a real
 * KRaft broker: SIGKILL mid-stream with another instance taking over, and SIGTERM's clean stop.
 */
class ServiceFailoverIT {
  static final int BLOCK = 16;
  static KafkaClusterTestKit cluster;
  static LocalTeacher teacher;
  @TempDir static Path tmp;
  static Path checkpoint;

  @BeforeAll
  static void start() throws Exception {
    cluster =
        TestBroker.startForService(
            // A killed instance's open transaction is aborted soon after its timeout.
            Map.of("transaction.abort.timed.out.transaction.cleanup.interval.ms", "1000"));
    teacher = TestTeachers.tiny(BLOCK, 4, 2f);
    checkpoint = tmp.resolve("teacher");
    Checkpoints.save(teacher.model(), checkpoint, Map.of());
  }

  @AfterAll
  static void stop() throws Exception {
    teacher.close();
    cluster.close();
  }

  static Process child(String prefix, String txId, Path log) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd =
        new ArrayList<>(
            List.of(
                java,
                "-Xmx512m",
                "-cp",
                System.getProperty("java.class.path"),
                TeacherServiceMain.class.getName(),
                "serve",
                "--checkpoint",
                checkpoint.toString(),
                "--teacher-id",
                "tiny-gpt",
                "--top-k",
                "4",
                "--temperature",
                "2",
                "--chunk-positions",
                Integer.toString(BLOCK),
                "--max-prompt-tokens",
                "100",
                "--token-budget",
                "24",
                "--bootstrap-servers",
                cluster.bootstrapServers(),
                "--group-id",
                prefix + "-group",
                "--transactional-id",
                txId,
                "--prompts-topic",
                prefix + ".prompts",
                "--outputs-topic",
                prefix + ".outputs",
                "--dlq-topic",
                prefix + ".dlq",
                "--kafka-property",
                "consumer.session.timeout.ms=6000",
                "--kafka-property",
                "producer.transaction.timeout.ms=3000"));
    ProcessBuilder pb =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("DJL_OFFLINE", "true");
    return pb.start();
  }

  static Map<String, String> produce(String prefix, int n) {
    Random rng = new Random(5);
    Map<String, String> texts = new HashMap<>();
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrapServers());
    try (KafkaProducer<String, byte[]> producer =
        new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer())) {
      for (int i = 0; i < n; i++) {
        StringBuilder sb = new StringBuilder();
        int len = 2 + rng.nextInt(40);
        for (int j = 0; j < len; j++) {
          sb.append(TestTeachers.ALPHABET.charAt(rng.nextInt(TestTeachers.ALPHABET.length())));
        }
        String id = prefix + "-" + i;
        texts.put(id, sb.toString());
        producer.send(
            new ProducerRecord<>(
                prefix + ".prompts",
                id,
                SingleObjectEncoding.encode(
                    Prompt.newBuilder()
                        .setPromptId(id)
                        .setRunId("r")
                        .setSource("it")
                        .setText(sb.toString())
                        .build())));
      }
      producer.flush();
    }
    return texts;
  }

  static int chunks(Map<String, String> texts) {
    int n = 0;
    for (String t : texts.values()) {
      n += (t.length() - 1 + BLOCK - 1) / BLOCK;
    }
    return n;
  }

  /** A read_committed consumer reading the outputs topic from the start. */
  static KafkaConsumer<String, byte[]> reader(String topic) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrapServers());
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "reader-" + System.nanoTime());
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    KafkaConsumer<String, byte[]> c =
        new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
    c.subscribe(List.of(topic));
    return c;
  }

  /** The prompts and outputs topics with {@code partitions} each, and a one-partition DLQ. */
  private static void topics(String prefix, int partitions) throws Exception {
    String boot = cluster.bootstrapServers();
    Topics.ensure(boot, Map.of(), prefix + ".prompts", partitions, (short) 1);
    Topics.ensure(boot, Map.of(), prefix + ".outputs", partitions, (short) 1);
    Topics.ensure(boot, Map.of(), prefix + ".dlq", 1, (short) 1);
  }

  @Test
  void sigkillMidStreamAndTakeoverLabelEveryPromptExactlyOnce() throws Exception {
    String prefix = "kill";
    topics(prefix, 4);
    Map<String, String> texts = produce(prefix, 800);
    int expected = chunks(texts);
    Path log = tmp.resolve("child-kill.log");
    Process child = child(prefix, "kill-child", log);
    List<ConsumerRecord<String, byte[]>> seen = new ArrayList<>();
    int atKill;
    try (KafkaConsumer<String, byte[]> r = reader(prefix + ".outputs")) {
      long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
      while (seen.size() < 100 && System.nanoTime() < deadline && child.isAlive()) {
        r.poll(Duration.ofMillis(100)).forEach(seen::add);
      }
      assertThat(seen).as(Files.readString(log)).hasSizeGreaterThanOrEqualTo(100);
      child.destroyForcibly(); // SIGKILL: no shutdown hook, an open transaction left behind
      assertThat(child.waitFor(10, TimeUnit.SECONDS)).isTrue();
      assertThat(child.exitValue()).isEqualTo(137);
      atKill = seen.size();
    }
    assertThat(atKill).as("killed mid-stream").isLessThan(expected);

    PromptServiceLoop survivor =
        new PromptServiceLoop(
            new ServiceConfig(
                cluster.bootstrapServers(),
                prefix + "-group",
                "kill-survivor",
                prefix + ".prompts",
                prefix + ".outputs",
                prefix + ".dlq",
                512,
                Duration.ofMillis(20),
                BLOCK,
                100,
                2,
                Duration.ofMillis(10),
                Map.of("consumer.session.timeout.ms", "6000")),
            new PromptLabeler(teacher, BLOCK, 100),
            new TeacherMetrics());
    Thread t = new Thread(survivor, "survivor");
    t.start();
    List<ConsumerRecord<String, byte[]>> all =
        PromptServiceLoopIT.readCommitted(
            cluster.bootstrapServers(), prefix + ".outputs", expected, Duration.ofSeconds(90));
    survivor.requestStop();
    t.join(20_000);
    assertThat(survivor.committedPrompts()).isPositive();
    PromptServiceLoopIT.assertExactlyOnce(teacher, texts, all);
    assertThat(all).hasSize(expected);
  }

  @Test
  void sigtermStopsTheServiceCleanlyAfterItsCurrentTransaction() throws Exception {
    String prefix = "term";
    topics(prefix, 2);
    Map<String, String> texts = produce(prefix, 30);
    Path log = tmp.resolve("child-term.log");
    Process child = child(prefix, "term-child", log);
    Set<String> seen = new HashSet<>();
    try (KafkaConsumer<String, byte[]> r = reader(prefix + ".outputs")) {
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (seen.size() < texts.size() && System.nanoTime() < deadline) {
        for (ConsumerRecord<String, byte[]> rec : r.poll(Duration.ofMillis(200))) {
          TeacherOutput o = SingleObjectEncoding.decodeTeacherOutput(rec.value());
          seen.add(o.getPromptId().toString());
        }
      }
    }
    assertThat(seen).hasSize(texts.size());
    child.destroy(); // SIGTERM
    assertThat(child.waitFor(30, TimeUnit.SECONDS)).as(Files.readString(log)).isTrue();
    // The JVM reports 143 (128 + SIGTERM) even after a clean stop; "stopped" is printed only once
    // the loop thread has finished (its transaction committed, its clients closed).
    assertThat(child.exitValue()).isEqualTo(143);
    // (log4j's own shutdown hook may already have stopped logging, so check stdout only.)
    assertThat(Files.readString(log)).contains("ready").contains("stopped");
  }
}
