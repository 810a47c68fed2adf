package dev.distill.spark.bench;

import dev.distill.schemas.encoding.SingleObjectEncoding;
import dev.distill.spark.KafkaTestCluster;
import dev.distill.spark.jobs.IngestConfig;
import dev.distill.spark.jobs.IngestJob;
import dev.distill.spark.jobs.IngestResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.spark.sql.SparkSession;

/**
 * Ingest throughput beside its limit (issue 14): a real in-JVM KRaft broker holds N committed
 * teacher outputs (CurateBenchmark's synthetic records, single-object encoded, in transactions of
 * 1,000); then interleaved rounds of (A) a plain {@code KafkaConsumer} reading the whole topic
 * ({@code read_committed}, bytes only, polled until every partition's end offset) and (B) {@code
 * IngestJob} with {@code Trigger.AvailableNow} from the earliest offsets to raw Parquet (a fresh
 * output and checkpoint each round) on {@code local[2]}. Prints each round, the medians in
 * records/s and MB/s (of Kafka value bytes, the same for both), B/A, and the load average around
 * each round. Asserts nothing.
 *
 * <p>Run: {@code bash spark-jobs/bench/ingest.sh [N=20000] [positions=128] [rounds=3]
 * [partitions=2]}. The data lives in a temp folder, deleted at the end.
 */
public final class IngestBenchmark {
  private static final String TOPIC = "bench-teacher-outputs";

  private IngestBenchmark() {}

  /** Writes records [0, n) in committed transactions of 1,000; returns the value bytes sent. */
  static long produce(KafkaTestCluster kafka, long n, int positions) {
    long bytes = 0;
    try (KafkaProducer<byte[], byte[]> producer = kafka.transactionalProducer()) {
      List<ProducerRecord<byte[], byte[]>> batch = new ArrayList<>();
      for (long i = 0; i < n; i++) {
        byte[] value = SingleObjectEncoding.encode(CurateBenchmark.teacherOutput(i, positions));
        bytes += value.length;
        batch.add(KafkaTestCluster.message(TOPIC, "r" + i, value));
        if (batch.size() == 1000 || i == n - 1) {
          KafkaTestCluster.sendCommitted(producer, batch);
          batch.clear();
        }
      }
    }
    return bytes;
  }

  /** (A) Reads the whole topic with a plain consumer; returns the records read. */
  static long consume(KafkaTestCluster kafka) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    long records = 0;
    long checksum = 0;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
      List<TopicPartition> partitions =
          consumer.partitionsFor(TOPIC).stream()
              .map(i -> new TopicPartition(i.topic(), i.partition()))
              .toList();
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
      while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          records++;
          checksum += r.value().length; // touch the bytes, as a reader would
        }
      }
    }
    if (checksum == 0 && records > 0) {
      throw new IllegalStateException("empty values");
    }
    return records;
  }

  /** (B) IngestJob, AvailableNow, into a fresh folder; returns the records ingested. */
  static long ingest(KafkaTestCluster kafka, Path dir) {
    IngestResult r =
        IngestJob.run(
            new IngestConfig(
                kafka.bootstrapServers(),
                TOPIC,
                dir.resolve("raw").toString(),
                dir.resolve("quarantine").toString(),
                dir.resolve("checkpoint").toString(),
                null));
    if (r.quarantined() != 0) {
      throw new IllegalStateException(r.quarantined() + " records quarantined");
    }
    return r.ingested();
  }

  private static String load() throws java.io.IOException {
    return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
  }

  public static void main(String[] args) throws Exception {
    long n = args.length > 0 ? Long.parseLong(args[0]) : 20_000;
    int positions = args.length > 1 ? Integer.parseInt(args[1]) : 128;
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
    int partitions = args.length > 3 ? Integer.parseInt(args[3]) : 2;
    Path dir = Files.createTempDirectory("ingest-bench");
    SparkSession spark = CurateBenchmark.localSession("ingest-bench");
    try (KafkaTestCluster kafka = KafkaTestCluster.start()) {
      kafka.createTopic(TOPIC, partitions);
      long bytes = produce(kafka, n, positions);
      double mb = bytes / 1e6;
      System.out.printf(
          "topic: %,d records, %d partitions, %.1f MB of values (%,d B a record), %d positions"
              + " k=%d; load average %s%n",
          n, partitions, mb, bytes / n, positions, CurateBenchmark.K, load());
      // Warm-up (JIT, Spark's Kafka source, the broker's page cache), untimed.
      consume(kafka);
      ingest(kafka, dir.resolve("warm-up"));
      List<Double> plain = new ArrayList<>();
      List<Double> spark2 = new ArrayList<>();
      for (int round = 0; round < rounds; round++) {
        String before = load();
        long[] a = new long[1];
        plain.add(CurateBenchmark.seconds(() -> a[0] = consume(kafka)));
        Path out = dir.resolve("round-" + round);
        long[] b = new long[1];
        spark2.add(CurateBenchmark.seconds(() -> b[0] = ingest(kafka, out)));
        if (a[0] != n || b[0] != n) {
          throw new IllegalStateException(
              "read " + a[0] + " and ingested " + b[0] + " records of " + n);
        }
        System.out.printf(
            "round %d: A consumer %.2f s, B IngestJob %.2f s; load average %s -> %s%n",
            round + 1, plain.get(round), spark2.get(round), before, load());
      }
      double a = CurateBenchmark.median(plain);
      double b = CurateBenchmark.median(spark2);
      System.out.println(
          "| records | MB | A consumer rec/s | A MB/s | B IngestJob rec/s | B MB/s | B/A |");
      System.out.printf(
          "| %,d | %.1f | %,.0f | %.1f | %,.0f | %.1f | %.2fx |%n",
          n, mb, n / a, mb / a, n / b, mb / b, a / b);
    } finally {
      spark.stop();
      CurateBenchmark.deleteTree(dir);
    }
  }
}
