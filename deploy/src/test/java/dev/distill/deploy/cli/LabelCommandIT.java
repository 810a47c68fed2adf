package dev.distill.deploy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.deploy.kafka.EmbeddedKafka;
import dev.distill.teacher.TestOutputs;
import dev.distill.teacher.TestTeachers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.apache.avro.generic.GenericRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code distill label} then {@code distill curate}, through the {@code distill} command line: a
 * real (tiny, random) GPT checkpoint, a JSONL file of prompts, real Parquet out with {@code
 * _SUCCESS}, then CurateJob on local Spark in this JVM.
 */
class LabelCommandIT {
  @TempDir Path tmp;

  /** A tiny random GPT teacher checkpoint. */
  Path teacher() throws IOException {
    return TestTeachers.tinyCheckpoint(tmp.resolve("teacher"), Map.of());
  }

  /** prompts.jsonl with prompts "a" and "b", then {@code extra} (e.g. a line to reject). */
  Path prompts(String extra) throws IOException {
    return Files.writeString(
        tmp.resolve("prompts.jsonl"),
        "{\"prompt_id\":\"a\",\"text\":\"the cat sat on the mat.\"}\n"
            + "{\"prompt_id\":\"b\",\"text\":\"hello, world\"}\n"
            + extra);
  }

  @Test
  void labelTurnsJsonlPromptsIntoCommittedParquetThatCurateReads() throws Exception {
    Path ckpt = teacher();
    Path input = prompts("not json\n");
    Path out = tmp.resolve("teacher-outputs");

    int code = DistillCli.execute(TestTeachers.labelArgs("label", ckpt, input, out, "2026-01-02"));

    assertThat(code).isZero();
    assertThat(out.resolve("_SUCCESS")).exists();
    Set<String> prompts = new HashSet<>();
    for (GenericRecord g : TestOutputs.readAll(out)) {
      prompts.add(g.get("promptId").toString());
      assertThat(g.get("runId").toString()).isEqualTo("2026-01-02");
    }
    assertThat(prompts).containsExactlyInAnyOrder("a", "b");
    assertThat(Files.readString(out.resolve("_rejects.jsonl"))).contains("prompts.jsonl:3");

    // The next step of the nightly chain, in-process: curate reads label's Parquet directly.
    Path curated = tmp.resolve("curated");
    Path report = tmp.resolve("curation-report.json");
    // Tiny data: Spark's 200 default shuffle partitions would be 200 empty tasks per stage.
    System.setProperty("spark.sql.shuffle.partitions", "2");
    int curateCode;
    try {
      curateCode =
          DistillCli.execute(
              "curate",
              "--master",
              "local[1]",
              "--input",
              out.toString(),
              "--output",
              curated.toString(),
              "--report",
              report.toString());
    } finally {
      System.clearProperty("spark.sql.shuffle.partitions");
    }
    assertThat(curateCode).isZero();
    assertThat(curated.resolve("_SUCCESS")).exists();
    assertThat(Files.readString(report)).containsPattern("\"kept\": *2\\b");
    assertThat(System.getProperty("spark.master")).as("not leaked to the JVM").isNull();
  }

  /**
   * The nightly chain of {@code airflow/distill_pipeline.py}, through the real command line: label
   * into the date's topic (transactional), a retry of label (its records a second time), ingest
   * (IngestJob, available-now, read_committed) to the date's raw folder, curate: both prompts kept,
   * the retry's copies removed by curation's exact deduplication.
   */
  @Test
  void labelToKafkaThenIngestThenCurateIsTheNightlyChainAndARetryAddsNothing() throws Exception {
    Path ckpt = teacher();
    Path input = prompts("");
    String topic = "distill.batch-labels.2026-01-02";
    try (EmbeddedKafka kafka = EmbeddedKafka.start(tmp.resolve("kafka"), Duration.ofSeconds(90))) {
      String[] label = {
        "label",
        "--checkpoint",
        ckpt.toString(),
        "--top-k",
        "4",
        "--input",
        input.toString(),
        "--run-id",
        "2026-01-02",
        "--bootstrap-servers",
        kafka.bootstrapServers(),
        "--outputs-topic",
        topic,
        "--create-topic",
        "--topic-partitions",
        "1",
        "--topic-replication",
        "1"
      };
      assertThat(DistillCli.execute(label)).isZero();
      assertThat(DistillCli.execute(label)).isZero(); // a retried task produces everything again

      Path raw = tmp.resolve("teacher-outputs");
      Path curated = tmp.resolve("curated");
      Path report = tmp.resolve("curation-report.json");
      System.setProperty("spark.sql.shuffle.partitions", "2");
      try {
        int ingest =
            DistillCli.execute(
                "ingest",
                "--master",
                "local[1]",
                "--bootstrap-servers",
                kafka.bootstrapServers(),
                "--topic",
                topic,
                "--output",
                raw.toString(),
                "--quarantine",
                tmp.resolve("quarantine").toString(),
                "--checkpoint",
                tmp.resolve("ingest-checkpoint").toString(),
                "--trigger",
                "available-now");
        assertThat(ingest).isZero();
        int curate =
            DistillCli.execute(
                "curate",
                "--master",
                "local[1]",
                "--input",
                raw.toString(),
                "--output",
                curated.toString(),
                "--report",
                report.toString());
        assertThat(curate).isZero();
      } finally {
        System.clearProperty("spark.sql.shuffle.partitions");
      }
      String r = Files.readString(report);
      // Each run produced 3 records (a: 2 chunks at the teacher's context of 16, b: 1); ingest
      // carried both runs' 6 through; reassembly merges a's repeated chunks and exact
      // deduplication drops b's copy, so the retry changes nothing downstream.
      assertThat(r).containsPattern("\"input\": *6\\b");
      assertThat(r).containsPattern("\"kept\": *2\\b");
    }
  }
}
