package dev.distill.spark.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.schemas.encoding.SingleObjectEncoding;
import dev.distill.spark.ChildJvm;
import dev.distill.spark.KafkaTestCluster;
import dev.distill.spark.SparkJobCounter;
import dev.distill.spark.TestRecords;
import dev.distill.spark.transforms.RawColumns;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** IngestJob against a real in-JVM KRaft broker. */
class IngestJobIT {
  private static KafkaTestCluster kafka;
  private static SparkSession spark;

  @TempDir static Path tmp;

  @BeforeAll
  static void start() throws Exception {
    kafka = KafkaTestCluster.start();
    spark =
        SparkSession.builder()
            .appName("ingest-it")
            .master("local[2,4]")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .getOrCreate();
  }

  @AfterAll
  static void stop() throws Exception {
    if (spark != null) {
      spark.stop();
    }
    if (kafka != null) {
      kafka.close();
    }
  }

  private static ProducerRecord<byte[], byte[]> message(String topic, String id, int seed) {
    return KafkaTestCluster.message(
        topic, id, SingleObjectEncoding.encode(TestRecords.record(id, seed)));
  }

  /** Sends records [from, to) in one committed transaction. */
  private static List<String> sendCommitted(
      KafkaProducer<byte[], byte[]> producer, String topic, String prefix, int from, int to) {
    List<String> ids = new ArrayList<>();
    List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
    for (int i = from; i < to; i++) {
      ids.add(prefix + i);
      records.add(message(topic, prefix + i, i));
    }
    KafkaTestCluster.sendCommitted(producer, records);
    return ids;
  }

  private IngestConfig config(String topic, Path dir) {
    return new IngestConfig(
        kafka.bootstrapServers(),
        topic,
        dir.resolve("raw").toString(),
        dir.resolve("quarantine").toString(),
        dir.resolve("checkpoint").toString(),
        null,
        Map.of("client.id", "ingest-it"));
  }

  private static List<String> recordIds(String path) {
    return spark.read().parquet(path).select("record_id").as(Encoders.STRING()).collectAsList();
  }

  @Test
  void ingestsOnlyCommittedRecordsAndQuarantinesUndecodableMessages() throws Exception {
    String topic = "teacher-outputs-a";
    kafka.createTopic(topic, 2);
    byte[] garbage = "{\"not\": \"avro\"}".getBytes(StandardCharsets.UTF_8);
    List<String> committed;
    try (KafkaProducer<byte[], byte[]> producer = kafka.transactionalProducer()) {
      committed = sendCommitted(producer, topic, "good-", 0, 6);
      producer.beginTransaction();
      for (int i = 100; i < 104; i++) {
        producer.send(message(topic, "aborted-" + i, i));
      }
      producer.flush();
      producer.abortTransaction();
      producer.beginTransaction();
      producer.send(
          new ProducerRecord<>(topic, 0, "junk".getBytes(StandardCharsets.UTF_8), garbage));
      producer.commitTransaction();
    }
    Path dir = Files.createDirectories(tmp.resolve("a"));

    IngestResult result = IngestJob.run(config(topic, dir));

    assertThat(result.ingested()).isEqualTo(6);
    assertThat(result.quarantined()).isEqualTo(1);
    assertThat(result.outputPath()).isEqualTo(dir.resolve("raw").toString());
    assertThat(recordIds(result.outputPath())).containsExactlyInAnyOrderElementsOf(committed);
    assertThat(Files.exists(dir.resolve("raw").resolve("_spark_metadata"))).isTrue();
    Dataset<Row> raw = spark.read().parquet(result.outputPath());
    assertThat(raw.columns())
        .containsExactly(dev.distill.spark.transforms.RawColumns.SCHEMA.fieldNames());
    Row first = raw.where("record_id = 'good-3'").first();
    assertThat(first.<String>getAs("tokenizer_id")).isEqualTo("char");
    assertThat(first.<Long>getAs("kafka_offset")).isNotNull();
    List<Row> quarantined =
        spark.read().parquet(dir.resolve("quarantine").toString()).collectAsList();
    assertThat(quarantined).hasSize(1);
    assertThat(quarantined.get(0).<String>getAs("reason")).isEqualTo("NOT_SINGLE_OBJECT_ENCODING");
    assertThat(quarantined.get(0).<byte[]>getAs("value")).isEqualTo(garbage);
    assertThat(quarantined.get(0).<Integer>getAs("kafka_partition")).isEqualTo(0);
    assertThat(spark.active()).isSameAs(spark);
  }

  @Test
  void rerunFromTheCheckpointAddsOnlyNewRecordsWithoutDuplicates() throws Exception {
    String topic = "teacher-outputs-b";
    kafka.createTopic(topic, 1);
    Path dir = Files.createDirectories(tmp.resolve("b"));
    List<String> all = new ArrayList<>();
    try (KafkaProducer<byte[], byte[]> producer = kafka.transactionalProducer()) {
      all.addAll(sendCommitted(producer, topic, "r-", 0, 5));

      IngestResult first = IngestJob.run(config(topic, dir));
      all.addAll(sendCommitted(producer, topic, "r-", 5, 8));
      IngestResult second = IngestJob.run(config(topic, dir));
      IngestResult third = IngestJob.run(config(topic, dir));

      assertThat(first.ingested()).isEqualTo(5);
      assertThat(second.ingested()).isEqualTo(3);
      assertThat(third.ingested()).isZero();
      assertThat(second.quarantined()).isZero();
    }
    List<String> ids = recordIds(dir.resolve("raw").toString());
    assertThat(ids).hasSize(8).doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(all);
  }

  @Test
  void availableNowRunIsOneSparkJobPerOutputWithNoJobForItsCounts() throws Exception {
    // Issue 14: counts are observed on the micro-batches that write the rows. Before, each run
    // also counted both outputs before and after (two count jobs each time, four or more).
    String topic = "teacher-outputs-jobs";
    kafka.createTopic(topic, 2);
    Path dir = Files.createDirectories(tmp.resolve("jobs"));
    try (KafkaProducer<byte[], byte[]> producer = kafka.transactionalProducer()) {
      sendCommitted(producer, topic, "j-", 0, 20);
      SparkJobCounter.Counted<IngestResult> first =
          SparkJobCounter.count(spark, () -> IngestJob.run(config(topic, dir)));
      sendCommitted(producer, topic, "j-", 20, 30);
      SparkJobCounter.Counted<IngestResult> second =
          SparkJobCounter.count(spark, () -> IngestJob.run(config(topic, dir)));

      assertThat(first.value().ingested()).isEqualTo(20);
      assertThat(second.value().ingested()).isEqualTo(10);
      System.out.printf(
          "ingest: first run %d Spark jobs, re-run with new records %d%n",
          first.jobs(), second.jobs());
      assertThat(first.jobs()).isLessThanOrEqualTo(2);
      assertThat(second.jobs()).isLessThanOrEqualTo(2);
    }
    assertThat(recordIds(dir.resolve("raw").toString())).hasSize(30).doesNotHaveDuplicates();
  }

  /** The child JVM's command: this test's classpath and Spark flags, running IngestJob's main. */
  private static List<String> childIngest(String topic, Path dir) {
    List<String> cmd = new ArrayList<>(ChildJvm.javaWithSparkFlags());
    String cp =
        System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    cmd.addAll(
        List.of(
            "-Xmx768m",
            "-Dspark.master=local[2]",
            "-Dspark.ui.enabled=false",
            "-Dspark.sql.shuffle.partitions=2",
            "-cp",
            cp,
            IngestJob.class.getName(),
            "--bootstrap-servers",
            kafka.bootstrapServers(),
            "--topic",
            topic,
            "--output",
            dir.resolve("raw").toString(),
            "--quarantine",
            dir.resolve("quarantine").toString(),
            "--checkpoint",
            dir.resolve("checkpoint").toString(),
            "--trigger",
            "processing-time=300ms"));
    return cmd;
  }

  /** Micro-batches the raw sink has committed: the numbered files of its _spark_metadata log. */
  private static long committedBatches(Path raw) throws Exception {
    Path log = raw.resolve("_spark_metadata");
    if (!Files.isDirectory(log)) {
      return 0;
    }
    try (var files = Files.list(log)) {
      return files.filter(f -> f.getFileName().toString().matches("[0-9]+(\\.compact)?")).count();
    }
  }

  @Test
  void alwaysOnIngestKilledMidStreamAndRestartedFromItsCheckpointLosesAndDuplicatesNothing()
      throws Exception {
    String topic = "teacher-outputs-kill";
    kafka.createTopic(topic, 2);
    Path dir = Files.createDirectories(tmp.resolve("kill"));
    Path raw = dir.resolve("raw");
    List<String> sent = new ArrayList<>();
    Process child =
        new ProcessBuilder(childIngest(topic, dir))
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("child.log").toFile())
            .start();
    long committedAtKill;
    try (KafkaProducer<byte[], byte[]> producer = kafka.transactionalProducer()) {
      int batch = 0;
      // Keep producing (10 records a transaction) while the child commits micro-batches; kill it
      // once it has committed a few, while records are still arriving.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (committedBatches(raw) < 2) {
        assertThat(child.isAlive())
            .as("child ingest died; log:%n%s", Files.readString(dir.resolve("child.log")))
            .isTrue();
        assertThat(System.nanoTime()).as("child never committed 2 batches").isLessThan(deadline);
        sent.addAll(sendCommitted(producer, topic, "k-", batch * 10, batch * 10 + 10));
        batch++;
        Thread.sleep(100);
      }
      sent.addAll(sendCommitted(producer, topic, "k-", batch * 10, batch * 10 + 10));
      batch++;
      child.destroyForcibly(); // SIGKILL: no shutdown hook, no clean stop
      assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
      committedAtKill = spark.read().schema(RawColumns.SCHEMA).parquet(raw.toString()).count();
      // More arrive while ingest is down.
      for (int i = 0; i < 3; i++, batch++) {
        sent.addAll(sendCommitted(producer, topic, "k-", batch * 10, batch * 10 + 10));
      }
    } finally {
      child.destroyForcibly();
    }

    IngestResult restarted = IngestJob.run(config(topic, dir));

    assertThat(committedAtKill).isPositive().isLessThan(sent.size());
    assertThat(restarted.ingested()).isEqualTo(sent.size() - committedAtKill);
    List<String> ids = recordIds(raw.toString());
    assertThat(ids).hasSameSizeAs(sent).doesNotHaveDuplicates();
    assertThat(ids).containsExactlyInAnyOrderElementsOf(sent);
  }
}
