package dev.distill.teacher.kafka;

import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.schemas.avro.Prompt;
import dev.distill.schemas.encoding.SingleObjectEncoding;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.LocalTeacher;
import dev.distill.teacher.labeling.PromptLabeler;
import dev.distill.teacher.service.TeacherMetrics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import kafka.testkit.KafkaClusterTestKit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.LogDirDescription;
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

/**
 * Sustained prompts/s from the prompts topic to committed outputs with 1 and 2 service instances
 * (each with its own copy of the teacher, in this JVM) against a real KRaft broker, and bytes per
 * token of the outputs: Avro record bytes as produced, and the zstd-compressed log on the broker.
 *
 * <p>Usage (test classpath): {@code ServiceThroughputBenchmark [prompts] [chars]}, defaults 2000
 * 64, on the demo teacher's shape (4 layers, 4 heads, 128 wide, context 64, 65 characters).
 */
public final class ServiceThroughputBenchmark {
  private ServiceThroughputBenchmark() {}

  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
    int chars = args.length > 1 ? Integer.parseInt(args[1]) : 64;
    StringBuilder alphabet = new StringBuilder();
    for (char c = ' '; alphabet.length() < 65; c++) {
      alphabet.append(c);
    }
    CharTokenizer tok = CharTokenizer.fromCorpus(alphabet.toString());
    try (KafkaClusterTestKit cluster = TestBroker.startForService(Map.of())) {
      System.out.printf(
          "model 4L/4H/128 ctx 64; %d prompts of %d characters (%d positions each)%n",
          n, chars, chars - 1);
      for (int instances : new int[] {1, 2}) {
        run(cluster, tok, instances, n, chars);
      }
    }
  }

  private static void run(
      KafkaClusterTestKit cluster, CharTokenizer tok, int instances, int n, int chars)
      throws Exception {
    String prefix = "bench" + instances;
    String boot = cluster.bootstrapServers();
    Topics.ensure(boot, Map.of(), prefix + ".prompts", 4, (short) 1);
    Topics.ensure(boot, Map.of(), prefix + ".outputs", 4, (short) 1);
    Topics.ensure(boot, Map.of(), prefix + ".dlq", 1, (short) 1);
    Random rng = new Random(9);
    Properties pp = new Properties();
    pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
    try (KafkaProducer<String, byte[]> producer =
        new KafkaProducer<>(pp, new StringSerializer(), new ByteArraySerializer())) {
      for (int i = 0; i < n; i++) {
        StringBuilder sb = new StringBuilder();
        for (int j = 0; j < chars; j++) {
          sb.append(tok.vocabulary().charAt(rng.nextInt(tok.vocabSize())));
        }
        producer.send(
            new ProducerRecord<>(
                prefix + ".prompts",
                "p" + i,
                SingleObjectEncoding.encode(
                    Prompt.newBuilder()
                        .setPromptId("p" + i)
                        .setRunId("bench")
                        .setSource("bench")
                        .setText(sb.toString())
                        .build())));
      }
      producer.flush();
    }
    List<LocalTeacher> teachers = new ArrayList<>();
    List<PromptServiceLoop> loops = new ArrayList<>();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < instances; i++) {
      LocalTeacher t =
          new LocalTeacher(
              "bench",
              LanguageModel.create(new GptConfig(tok.vocabSize(), 64, 4, 4, 128, 0f), tok, 1),
              new LabelingConfig(8, 2f, 64));
      teachers.add(t);
      loops.add(
          new PromptServiceLoop(
              new ServiceConfig(
                  boot,
                  prefix + "-group",
                  prefix + "-tx-" + i,
                  prefix + ".prompts",
                  prefix + ".outputs",
                  prefix + ".dlq",
                  4096,
                  Duration.ofMillis(20),
                  1024,
                  65536,
                  3,
                  Duration.ofMillis(100),
                  Map.of()),
              new PromptLabeler(t, 1024, 65536),
              new TeacherMetrics()));
    }
    long start = System.nanoTime();
    for (PromptServiceLoop l : loops) {
      Thread th = new Thread(l, "loop");
      th.start();
      threads.add(th);
    }
    Properties cp = new Properties();
    cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
    cp.put(ConsumerConfig.GROUP_ID_CONFIG, prefix + "-reader");
    cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    long recordBytes = 0;
    int seen = 0;
    try (KafkaConsumer<String, byte[]> c =
        new KafkaConsumer<>(cp, new StringDeserializer(), new ByteArrayDeserializer())) {
      c.subscribe(List.of(prefix + ".outputs"));
      while (seen < n) {
        for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(50))) {
          seen++;
          recordBytes += r.value().length;
        }
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    for (PromptServiceLoop l : loops) {
      l.requestStop();
    }
    for (Thread th : threads) {
      th.join();
    }
    teachers.forEach(LocalTeacher::close);
    long onDisk = 0;
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", (Object) boot))) {
      for (Map<String, LogDirDescription> dirs :
          admin.describeLogDirs(List.of(0)).allDescriptions().get().values()) {
        for (LogDirDescription d : dirs.values()) {
          for (var e : d.replicaInfos().entrySet()) {
            if (e.getKey().topic().equals(prefix + ".outputs")) {
              onDisk += e.getValue().size();
            }
          }
        }
      }
    }
    long positions = (long) n * (chars - 1);
    System.out.printf(
        "%d instance(s): %d prompts in %.1f s = %.0f prompts/s (%.0f soft-labelled tokens/s);"
            + " %.2f bytes/token as records, %.2f bytes/token in the broker's log (zstd batches)%n",
        instances,
        n,
        seconds,
        n / seconds,
        positions / seconds,
        (double) recordBytes / positions,
        (double) onDisk / positions);
  }
}
