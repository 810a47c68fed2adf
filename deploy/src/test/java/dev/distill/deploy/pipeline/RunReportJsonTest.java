package dev.distill.deploy.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** report.json writes counts as integers (issue 17: {@code "records": 280.0}). */
class RunReportJsonTest {
  @TempDir Path run;

  @Test
  void countsReadBackFromThePipelineFactsStayIntegersAndRealsStayReals() throws Exception {
    PipelineFacts facts =
        new PipelineFacts(
            new LabelStage.LabelResult(280, 17_920, 38.5, 16, 2.0f, "t", "topk-v1"),
            new CurateStage.CurationResult(
                280, 271, 9, Map.of("SHAPE_MISMATCH", 9L), 0, 250, 21, 280, 0),
            Map.of(),
            Map.of("kd-student", "forward KL"),
            null,
            new ArithmeticStage.ArithmeticResult(
                new ArithmeticStage.Rationales(12, 48, 40, 30, 4, 0.8f),
                new ArithmeticStage.Curation(48, 0, Map.of("NO_ANSWER", 48L), 0, 0),
                "not trained: no rationale survived curation",
                null,
                null),
            Map.of("curate", 12.5),
            List.of());
    facts.write(run);

    PipelineFacts back = PipelineFacts.read(run);
    String json = RunReport.toJson(back);

    assertThat(back.softLabels()).isEqualTo(facts.softLabels());
    assertThat(back.curation()).isEqualTo(facts.curation());
    assertThat(back.losses()).isEqualTo(facts.losses());
    assertThat(back.timingsSeconds()).isEqualTo(facts.timingsSeconds());
    assertThat(back.arithmetic()).isEqualTo(facts.arithmetic());
    assertThat(json)
        .contains("\"records\": 280,")
        .contains("\"kept\": 271")
        .contains("\"SHAPE_MISMATCH\": 9")
        .contains("\"sampled\": 48")
        .contains("\"bytes_per_token\": 38.5")
        .contains("\"sample_temperature\": 0.8")
        .contains("\"with_answer\": 40")
        .contains("\"matching_gold\": 30")
        .doesNotContain("280.0")
        .doesNotContain("271.0")
        .doesNotContain("48.0");
  }

  @Test
  void aRunFolderWithoutPipelineFactsReadsAsNoWorkload() throws Exception {
    assertThat(PipelineFacts.read(run)).isEqualTo(PipelineFacts.NONE);
    assertThat(PipelineFacts.NONE.bitsPerWeight("kd-student")).isEqualTo(32.0);
  }
}
