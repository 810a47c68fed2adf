package dev.distill.spark.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.spark.ChildJvm;
import dev.distill.spark.TestRecords;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The application jar ({@code target/spark-jobs-*-app.jar}, built in package) run by the real
 * {@code org.apache.spark.deploy.SparkSubmit} in a child JVM whose classpath is the Spark jars only
 * (no classes of ours): proves the jar runs under spark-submit and does not bundle Spark.
 */
class SparkSubmitIT {
  @TempDir static Path tmp;

  private static Path appJar() throws Exception {
    try (Stream<Path> s = Files.list(Path.of("target"))) {
      return s.filter(p -> p.getFileName().toString().matches("spark-jobs-.*-app\\.jar"))
          .findFirst()
          .orElseThrow(() -> new AssertionError("no app jar in target: run mvn package first"));
    }
  }

  /**
   * The test classpath minus our own classes and modules and minus what the app jar bundles (the
   * Kafka connector and client): what a Spark distribution's {@code jars/} folder provides.
   */
  private static String sparkClasspath() {
    String cp =
        System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    return Arrays.stream(cp.split(File.pathSeparator))
        .filter(e -> e.endsWith(".jar"))
        .filter(e -> !e.contains("dev/distill") && !e.contains("/target/"))
        .filter(e -> !e.contains("/org/apache/kafka/") && !e.contains("-kafka-0-10_"))
        .filter(e -> !e.contains("commons-pool2"))
        .collect(Collectors.joining(File.pathSeparator));
  }

  /** Top-level packages of the jar's classes, e.g. {@code org/apache/spark/sql/kafka010}. */
  private static List<String> classEntries(JarFile j) {
    return j.stream()
        .map(e -> e.getName())
        .filter(n -> n.endsWith(".class"))
        .collect(Collectors.toList());
  }

  @Test
  void curateJobRunsUnderSparkSubmitFromTheAppJar() throws Exception {
    Path jar = appJar();
    try (JarFile j = new JarFile(jar.toFile())) {
      assertThat(j.getEntry("dev/distill/spark/jobs/CurateJob.class")).isNotNull();
      assertThat(j.getEntry("dev/distill/schemas/codec/SoftLabelCodec.class")).isNotNull();
      assertThat(j.getEntry("org/apache/spark/sql/SparkSession.class")).isNull();
      assertThat(j.getEntry("org/apache/hadoop/fs/FileSystem.class")).isNull();
      assertThat(j.getEntry("scala/Option.class")).isNull();
      assertThat(j.getEntry("org/apache/avro/Schema.class")).isNull();
      // The Kafka connector is not part of a Spark distribution: the jar carries it.
      assertThat(j.getEntry("org/apache/spark/sql/kafka010/KafkaSourceProvider.class")).isNotNull();
      assertThat(j.getEntry("org/apache/kafka/clients/consumer/KafkaConsumer.class")).isNotNull();
      // Nothing else of Spark, Hadoop, Scala or Avro: every class is ours, schemas', Kafka's or
      // picocli's (the jobs' command lines; not part of a Spark distribution).
      assertThat(j.getEntry("picocli/CommandLine.class")).isNotNull();
      assertThat(classEntries(j))
          .isNotEmpty()
          .allMatch(
              n ->
                  n.startsWith("dev/distill/")
                      || n.startsWith("org/apache/spark/sql/kafka010/")
                      || n.startsWith("org/apache/spark/kafka010/")
                      || n.startsWith("org/apache/kafka/")
                      || n.startsWith("org/apache/commons/pool2/")
                      || n.startsWith("picocli/")
                      || n.equals("module-info.class")
                      || n.startsWith("META-INF/versions/"),
              "a class of ours, schemas, the Kafka connector or client, or picocli");
    }
    Path input = tmp.resolve("raw");
    SparkSession spark =
        SparkSession.builder().master("local[1]").config("spark.ui.enabled", "false").getOrCreate();
    try {
      List<dev.distill.schemas.avro.TeacherOutput> records = new ArrayList<>();
      for (int i = 0; i < 12; i++) {
        records.add(TestRecords.record("s" + i, i));
      }
      TestRecords.raw(spark, records).write().parquet(input.toString());
    } finally {
      spark.stop();
    }
    Path output = tmp.resolve("curated");
    Path report = tmp.resolve("report.json");
    List<String> cmd = new ArrayList<>(ChildJvm.javaWithSparkFlags());
    cmd.addAll(
        List.of(
            "-Xmx1g",
            "-cp",
            sparkClasspath(),
            "org.apache.spark.deploy.SparkSubmit",
            "--master",
            "local[2]",
            "--conf",
            "spark.ui.enabled=false",
            "--class",
            "dev.distill.spark.jobs.CurateJob",
            jar.toAbsolutePath().toString(),
            "--input",
            input.toString(),
            "--output",
            output.toString(),
            "--report",
            report.toString()));
    Path log = tmp.resolve("submit.log");
    Path stdout = tmp.resolve("submit.out");
    Process p =
        new ProcessBuilder(cmd).redirectError(log.toFile()).redirectOutput(stdout.toFile()).start();
    boolean done = p.waitFor(180, TimeUnit.SECONDS);
    if (!done) {
      p.destroyForcibly();
    }
    String err = Files.readString(log, StandardCharsets.UTF_8);
    assertThat(done).as("spark-submit finished; log:\n%s", err).isTrue();
    assertThat(p.exitValue()).as("exit code; log:\n%s", err).isZero();
    List<String> out = Files.readAllLines(stdout, StandardCharsets.UTF_8);
    assertThat(out).as("stdout").contains(output.toString());
    assertThat(output.resolve("_SUCCESS")).exists();
    assertThat(err).contains("input 12, kept 12");
    assertThat(Files.readString(report)).contains("\"kept\": 12");
  }
}
