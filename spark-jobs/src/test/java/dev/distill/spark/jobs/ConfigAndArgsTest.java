package dev.distill.spark.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class ConfigAndArgsTest {
  @Test
  void ingestArgsParseIntoConfigWithKafkaOptionsAndNoMaster() {
    IngestConfig c =
        JobCli.parse(
            new IngestJob.Cli(),
            new String[] {
              "--bootstrap-servers",
              "b:9092",
              "--topic",
              "distill.teacher-outputs",
              "--output",
              "/o",
              "--quarantine",
              "/q",
              "--checkpoint=/c",
              "--kafka-option",
              "security.protocol=SASL_SSL",
              "--kafka-option",
              "kafka.sasl.jaas.config=secret=x=y"
            });

    assertThat(c.bootstrapServers()).isEqualTo("b:9092");
    assertThat(c.topic()).isEqualTo("distill.teacher-outputs");
    assertThat(c.checkpointPath()).isEqualTo("/c");
    assertThat(c.master()).isNull();
    assertThat(c.kafkaOptions())
        .containsExactlyInAnyOrderEntriesOf(
            Map.of("security.protocol", "SASL_SSL", "sasl.jaas.config", "secret=x=y"));
    assertThat(c.toString()).doesNotContain("secret=x=y").contains("SASL_SSL");
  }

  @Test
  void ingestArgsMissingARequiredOptionIsAUsageError() {
    assertThatThrownBy(() -> JobCli.parse(new IngestJob.Cli(), new String[] {"--topic", "t"}))
        .isInstanceOf(JobCli.UsageException.class)
        .hasMessageContaining("--bootstrap-servers");
    assertThatThrownBy(
            () ->
                JobCli.parse(
                    new IngestJob.Cli(),
                    new String[] {
                      "--bootstrap-servers=b:1",
                      "--topic=t",
                      "--output=/o",
                      "--quarantine=/q",
                      "--checkpoint=/c",
                      "--frobnicate",
                      "1"
                    }))
        .isInstanceOf(JobCli.UsageException.class)
        .hasMessageContaining("Unknown options: '--frobnicate'");
  }

  @Test
  void ingestConfigRefusesReadUncommittedAndSharedPaths() {
    assertThatThrownBy(
            () ->
                new IngestConfig(
                    "b:1",
                    "t",
                    "/o",
                    "/q",
                    "/c",
                    null,
                    Map.of("isolation.level", "read_uncommitted")))
        .hasMessageContaining("read_committed");
    assertThatThrownBy(() -> new IngestConfig("b:1", "t", "/o", "/o", "/c", null))
        .hasMessageContaining("must differ");
    assertThatThrownBy(() -> new IngestConfig("b:1", " ", "/o", "/q", "/c", null))
        .hasMessageContaining("topic");
  }

  @Test
  void curateArgsDefaultTheValFractionAndRejectBadOnes() {
    CurateConfig c =
        JobCliTest.parseCurate(
            new String[] {"--input", "/raw", "--output", "/cur", "--report", "/r.json"});

    assertThat(c.valFraction()).isEqualTo(CurateConfig.DEFAULT_VAL_FRACTION);
    assertThat(c.master()).isNull();
    assertThatThrownBy(
            () ->
                JobCliTest.parseCurate(
                    new String[] {
                      "--input",
                      "/raw",
                      "--output",
                      "/cur",
                      "--report",
                      "/r",
                      "--val-fraction",
                      "1.5"
                    }))
        .hasMessageContaining("valFraction");
    assertThatThrownBy(() -> new CurateConfig("/a", "/cur", "/cur/report.json", 0.1, null))
        .hasMessageContaining("outside outputPath");
  }

  @Test
  void reportJsonHasEveryCountAndEscapesTheOutputPath() {
    String json =
        CurateJob.reportJson(
            new CurateResult(
                10,
                6,
                3,
                Map.of("SHAPE_MISMATCH", 2L, "TOKEN_OUT_OF_VOCAB", 1L),
                1,
                5,
                1,
                "/out/\"q\""));

    assertThat(json.replaceAll("\\s", ""))
        .startsWith(
            "{\"input\":10,\"kept\":6,\"rejected\":3,\"rejected_by_reason\":{\"SHAPE_MISMATCH\":2,"
                + "\"TOKEN_OUT_OF_VOCAB\":1},\"duplicates\":1,\"chunk_rows_merged\":0,"
                + "\"filtered\":{},\"near_duplicates\":0,\"contaminated\":0,"
                + "\"splits\":{\"train\":5,\"val\":1},\"distributions\":{},\"filters\":[],")
        .endsWith("\"output\":\"/out/\\\"q\\\"\"}");
  }

  @Test
  void curateOptionsParseFromTheCommandLineAndDefaultToOff() {
    CurateConfig plain =
        JobCliTest.parseCurate(
            new String[] {"--input", "/i", "--output", "/o", "--report", "/r.json"});
    assertThat(plain.options()).isEqualTo(CurateOptions.defaults());

    CurateConfig c =
        JobCliTest.parseCurate(
            new String[] {
              "--input",
              "/i",
              "--output",
              "/o",
              "--report",
              "/r.json",
              "--near-dup-threshold",
              "0.7",
              "--near-dup-bands",
              "8",
              "--filter",
              "mean_entropy<=q0.99",
              "--filter",
              "mean_topk_mass>=0.5",
              "--decontaminate-against",
              "val",
              "--decontaminate-ngram",
              "8",
              "--weights",
              "entropy",
              "--weight-tau",
              "2"
            });
    assertThat(c.options().nearDuplicates().threshold()).isEqualTo(0.7);
    assertThat(c.options().nearDuplicates().bands()).isEqualTo(8);
    assertThat(c.options().logitFilters())
        .extracting(f -> f.name())
        .containsExactly("mean_entropy<=q0.99", "mean_topk_mass>=0.5");
    assertThat(c.options().decontamination().againstVal()).isTrue();
    assertThat(c.options().decontamination().ngram()).isEqualTo(8);
    assertThat(c.options().weights().tau()).isEqualTo(2.0);
    assertThatThrownBy(
            () ->
                JobCliTest.parseCurate(
                    new String[] {
                      "--input", "/i", "--output", "/o", "--report", "/r", "--filter", "x<3"
                    }))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void exitCodesAreZeroOnSuccessOneOnFailureAndTwoOnUsageErrors() {
    CurateJob.Cli cli = new CurateJob.Cli();
    assertThat(JobCli.exitCode(cli, () -> {})).isZero();
    assertThat(
            JobCli.exitCode(
                cli,
                () -> {
                  throw new IllegalStateException("curation of /raw failed: file x truncated");
                }))
        .isEqualTo(1);
    assertThat(
            JobCli.exitCode(
                cli,
                () -> {
                  throw new dev.distill.spark.transforms.MixedProvenanceException("two teachers");
                }))
        .isEqualTo(1);
    assertThat(JobCli.exitCode(cli, () -> JobCliTest.parseCurate(new String[] {"--input", "/raw"})))
        .isEqualTo(2);
  }

  @Test
  void ingestTriggerParsesAvailableNowAndProcessingTimeIntervals() {
    assertThat(IngestConfig.parseTrigger("available-now")).isNull();
    assertThat(IngestConfig.parseTrigger("processing-time=30s"))
        .isEqualTo(java.time.Duration.ofSeconds(30));
    assertThat(IngestConfig.parseTrigger("processing-time=500ms"))
        .isEqualTo(java.time.Duration.ofMillis(500));
    assertThatThrownBy(() -> IngestConfig.parseTrigger("continuous"))
        .hasMessageContaining("available-now or processing-time");
    IngestConfig c =
        JobCli.parse(
            new IngestJob.Cli(),
            new String[] {
              "--bootstrap-servers",
              "b:1",
              "--topic",
              "t",
              "--output",
              "/o",
              "--quarantine",
              "/q",
              "--checkpoint",
              "/c",
              "--trigger",
              "processing-time=2m"
            });
    assertThat(c.alwaysOn()).isTrue();
    assertThat(c.processingTime()).isEqualTo(java.time.Duration.ofMinutes(2));
  }

  @Test
  void evalArgsDefaultToTheValSplitAndAscendingLengthBuckets() {
    EvalJob.Config c = JobCli.parse(new EvalJob.Cli(), JobCliTest.evalWith());
    assertThat(c.split()).isEqualTo("val");
    assertThat(c.lengthBuckets()).containsExactly(64, 256, 1024);
    assertThatThrownBy(
            () ->
                JobCli.parse(new EvalJob.Cli(), JobCliTest.evalWith("--length-buckets", "256,64")))
        .hasMessageContaining("ascending");
  }

  @Test
  void fuseArgsKeepTeachersInOrderWithTheirWeightsAndRefuseBadOnes() {
    FuseJob.Config c =
        JobCli.parse(
            new FuseJob.Cli(),
            new String[] {
              "--teacher", "/raw/a=3", "--teacher", "/raw/b=1", "--output", "/o", "--report", "/r"
            });
    assertThat(c.inputs()).containsExactly(Map.entry("/raw/a", 3.0), Map.entry("/raw/b", 1.0));
    assertThat(c.kOut()).isZero();
    assertThatThrownBy(
            () ->
                JobCli.parse(
                    new FuseJob.Cli(),
                    new String[] {"--teacher", "/raw/a", "--output", "/o", "--report", "/r"}))
        .isInstanceOf(JobCli.UsageException.class)
        .hasMessageContaining("RAW_DIR=WEIGHT");
    assertThatThrownBy(
            () ->
                JobCli.parse(
                    new FuseJob.Cli(),
                    new String[] {"--teacher", "/raw/a=1", "--output", "/o", "--report", "/r"}))
        .hasMessageContaining("at least two");
    assertThatThrownBy(
            () ->
                JobCli.parse(
                    new FuseJob.Cli(),
                    new String[] {
                      "--teacher", "/a=1", "--teacher", "/b=-1", "--output", "/o", "--report", "/r"
                    }))
        .hasMessageContaining("teacher /b: weight must be a finite number > 0, got -1.0");
  }
}
