package dev.distill.teacher.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.schemas.avro.Prompt;
import dev.distill.schemas.encoding.SingleObjectEncoding;
import dev.distill.teacher.TestTeachers;
import dev.distill.teacher.inference.LocalTeacher;
import dev.distill.teacher.labeling.PromptLabeler;
import dev.distill.teacher.service.TeacherMetrics;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The service loop across a broker crash (SIGKILL) and restart on the same log dir. */
class BrokerRestartIT {
  static final int BLOCK = 16;
  @TempDir Path tmp;

  /** A broker in a child JVM that can be killed and started again on the same dir and port. */
  private static ChildKafkaBroker startedBroker(Path dir) throws Exception {
    ChildKafkaBroker broker =
        ChildKafkaBroker.format(
            dir,
            Map.of(
                "offsets.topic.num.partitions", "2",
                "transaction.state.log.num.partitions", "2",
                "transaction.abort.timed.out.transaction.cleanup.interval.ms", "1000"));
    broker.start(Duration.ofSeconds(60));
    return broker;
  }

  @Test
  void brokerKilledAndRestartedMidStreamLosesAndDuplicatesNothingCommitted() throws Exception {
    try (ChildKafkaBroker broker = startedBroker(tmp.resolve("broker"));
        LocalTeacher teacher = TestTeachers.tiny(BLOCK, 4, 2f)) {
      String boot = broker.bootstrapServers();
      Topics.ensure(boot, Map.of(), "r.prompts", 2, (short) 1);
      Topics.ensure(boot, Map.of(), "r.outputs", 2, (short) 1);
      Topics.ensure(boot, Map.of(), "r.dlq", 1, (short) 1);
      Map<String, String> texts = new HashMap<>();
      Random rng = new Random(8);
      Properties pp = new Properties();
      pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
      try (KafkaProducer<String, byte[]> p =
          new KafkaProducer<>(pp, new StringSerializer(), new ByteArraySerializer())) {
        for (int i = 0; i < 300; i++) {
          StringBuilder sb = new StringBuilder();
          for (int j = 2 + rng.nextInt(40); j > 0; j--) {
            sb.append(TestTeachers.ALPHABET.charAt(rng.nextInt(TestTeachers.ALPHABET.length())));
          }
          texts.put("r-" + i, sb.toString());
          p.send(
              new ProducerRecord<>(
                  "r.prompts",
                  "r-" + i,
                  SingleObjectEncoding.encode(
                      Prompt.newBuilder()
                          .setPromptId("r-" + i)
                          .setRunId("r")
                          .setSource("it")
                          .setText(sb.toString())
                          .build())));
        }
        p.flush();
      }
      int expected = 0;
      for (String t : texts.values()) {
        expected += (t.length() - 1 + BLOCK - 1) / BLOCK;
      }
      PromptServiceLoop loop =
          new PromptServiceLoop(
              new ServiceConfig(
                  boot,
                  "r-group",
                  "r-tx",
                  "r.prompts",
                  "r.outputs",
                  "r.dlq",
                  48,
                  Duration.ofMillis(5),
                  BLOCK,
                  100,
                  2,
                  Duration.ofMillis(10),
                  Map.of()),
              new PromptLabeler(teacher, BLOCK, 100),
              new TeacherMetrics());
      Thread t = new Thread(loop, "loop");
      t.start();
      Properties cp = new Properties();
      cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
      cp.put(ConsumerConfig.GROUP_ID_CONFIG, "r-watch");
      cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
      cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
      int before = 0;
      try (KafkaConsumer<String, byte[]> c =
          new KafkaConsumer<>(cp, new StringDeserializer(), new ByteArrayDeserializer())) {
        c.subscribe(List.of("r.outputs"));
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (before < 30 && System.nanoTime() < deadline) {
          before += c.poll(Duration.ofMillis(50)).count();
        }
      }
      assertThat(before).isGreaterThanOrEqualTo(30);
      broker.kill();
      Thread.sleep(1000);
      broker.start(Duration.ofSeconds(60));
      List<ConsumerRecord<String, byte[]>> all =
          PromptServiceLoopIT.readCommitted(boot, "r.outputs", expected, Duration.ofSeconds(120));
      loop.requestStop();
      t.join(30_000);
      assertThat(before).as("the broker died mid-stream").isLessThan(expected);
      PromptServiceLoopIT.assertExactlyOnce(teacher, texts, all);
      assertThat(all).hasSize(expected);
    }
  }
}
