package dev.distill.spark.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class ConfigAndArgsTest {
  @Test
  void ingestArgsParseIntoConfigWithKafkaOptionsAndNoMaster() {
    IngestConfig c =
        IngestJob.parse(
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
    assertThatThrownBy(() -> IngestJob.parse(new String[] {"--topic", "t"}))
        .isInstanceOf(Args.UsageException.class)
        .hasMessageContaining("--bootstrap-servers");
    assertThatThrownBy(() -> IngestJob.parse(new String[] {"--topic", "t", "--frobnicate", "1"}))
        .hasMessageContaining("unknown option --frobnicate");
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
        CurateJob.parse(
            new String[] {"--input", "/raw", "--output", "/cur", "--report", "/r.json"});

    assertThat(c.valFraction()).isEqualTo(CurateConfig.DEFAULT_VAL_FRACTION);
    assertThat(c.master()).isNull();
    assertThatThrownBy(
            () ->
                CurateJob.parse(
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
        .isEqualTo(
            "{\"input\":10,\"kept\":6,\"rejected\":3,\"rejected_by_reason\":{\"SHAPE_MISMATCH\":2,"
                + "\"TOKEN_OUT_OF_VOCAB\":1},\"duplicates\":1,\"splits\":{\"train\":5,\"val\":1},"
                + "\"output\":\"/out/\\\"q\\\"\"}");
  }
}
