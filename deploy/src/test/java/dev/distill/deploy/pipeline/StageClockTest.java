package dev.distill.deploy.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each stage's seconds and peak RSS: a console line, report.json's {@code stages}. */
class StageClockTest {
  @TempDir Path run;

  @Test
  void eachStageGetsOneConsoleLineAndOneRecordInOrderWithItsResult() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    StageClock clock = new StageClock(new PrintStream(bytes, true, StandardCharsets.UTF_8));

    int answer = clock.time("label", () -> 42);
    clock.time(
        "curate",
        () -> {
          // at least 0.12 s of wall time and 0.15 s of this thread's CPU time (the machine may be
          // shared, so wall time alone says little about CPU time)
          java.lang.management.ThreadMXBean cpu =
              java.lang.management.ManagementFactory.getThreadMXBean();
          long until = System.nanoTime() + 120_000_000L;
          long cpuUntil = cpu.getCurrentThreadCpuTime() + 150_000_000L;
          while (System.nanoTime() < until || cpu.getCurrentThreadCpuTime() < cpuUntil) {
            Thread.onSpinWait();
          }
          return null;
        });

    assertThat(answer).isEqualTo(42);
    assertThat(clock.times())
        .extracting(StageClock.StageTime::name)
        .containsExactly("label", "curate");
    assertThat(clock.times().get(1).seconds()).isGreaterThanOrEqualTo(0.1);
    assertThat(clock.times().get(1).peakRssMb()).isPositive();
    assertThat(clock.seconds().keySet()).containsExactly("label", "curate");
    String console = bytes.toString(StandardCharsets.UTF_8);
    assertThat(console.lines().filter(l -> l.startsWith("[stage] ")).toList())
        .hasSize(2)
        .allMatch(
            l ->
                l.matches(
                    "\\[stage\\] \\w+: \\d+\\.\\d s, \\d+\\.\\d CPU-s, peak RSS \\d+\\.\\d MB"
                        + " \\(.+\\)"));
    // the process's CPU time covers the spinning thread's
    assertThat(clock.times().get(1).cpuSeconds()).isGreaterThanOrEqualTo(0.1);
    assertThat(clock.times().get(1).parts()).isEmpty();
  }

  @Test
  void concurrentPartsOfAStageAreRecordedInOrderAndPrintedInItsLine() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    StageClock clock = new StageClock(new PrintStream(bytes, true, StandardCharsets.UTF_8));

    clock.time(
        "students",
        r -> {
          r.part("kd-student", 12.34);
          r.part("hard-label-student", 3.0);
          return null;
        });

    assertThat(clock.times().get(0).parts())
        .containsExactly(Map.entry("kd-student", 12.3), Map.entry("hard-label-student", 3.0));
    assertThat(bytes.toString(StandardCharsets.UTF_8))
        .contains("[kd-student 12.3 CPU-s, hard-label-student 3.0 CPU-s]");
  }

  @Test
  void stagesSurviveThePipelineFactsWithTheirReportJsonKeys() throws Exception {
    StageClock.StageTime t =
        new StageClock.StageTime(
            "ingest", 12.3, 20.5, 812.4, PeakRss.VM_HWM, Map.of("kd-student", 9.5));
    PipelineFacts facts = new PipelineFacts(null, null, null, null, null, null, null, List.of(t));
    facts.write(run);

    PipelineFacts back = PipelineFacts.read(run);

    assertThat(back.stages()).containsExactly(t);
    assertThat(RunReport.toJson(back))
        .contains("\"name\": \"ingest\"")
        .contains("\"seconds\": 12.3")
        .contains("\"cpu_seconds\": 20.5")
        .contains("\"kd-student\": 9.5")
        .contains("\"peak_rss_mb\": 812.4")
        .contains("\"peak_rss_source\": \"VmHWM\"");
  }

  @Test
  void stageResultsWriteReportJsonKeysWithCountsAsIntegers() {
    String json =
        RunReport.toJson(
            Map.of(
                "soft_labels",
                new LabelStage.LabelResult(280, 17920, 31.25, 16, 2.0f, "t", "topk-v1"),
                "curation",
                new CurateStage.CurationResult(
                    280, 270, 4, Map.of("SHAPE_MISMATCH", 4L), 6, 250, 20, 280, 0)));

    assertThat(json)
        .contains("\"records\": 280,")
        .contains("\"bytes_per_token\": 31.25")
        .contains("\"top_k\": 16")
        .contains("\"temperature\": 2.0")
        .contains("\"rejected_by_reason\": {")
        .contains("\"quarantined_at_ingest\": 0")
        .doesNotContain("280.0")
        .doesNotContain("bytesPerToken");
  }
}
