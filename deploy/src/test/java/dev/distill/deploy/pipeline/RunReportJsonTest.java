package dev.distill.deploy.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** report.json writes counts as integers (issue 17: {@code "records": 280.0}). */
class RunReportJsonTest {
  @TempDir Path run;

  @Test
  void countsReadBackFromThePipelineFactsStayIntegersAndRealsStayReals() throws Exception {
    Map<String, Object> softLabels = new LinkedHashMap<>();
    softLabels.put("records", 280L);
    softLabels.put("bytes_per_token", 38.5);
    softLabels.put("mean_entropy", 2.0);
    Map<String, Object> facts = new LinkedHashMap<>();
    facts.put("soft_labels", softLabels);
    facts.put("curation", Map.of("kept", 271, "rejected_by_reason", Map.of("SHAPE_MISMATCH", 9L)));
    facts.put("compression", List.of(Map.of("step", 100, "bits_per_weight", 1.58)));
    RunReport.writeFacts(run, facts);

    String json = RunReport.toJson(RunReport.readFacts(run));

    assertThat(json)
        .contains("\"records\": 280,")
        .contains("\"kept\": 271")
        .contains("\"SHAPE_MISMATCH\": 9")
        .contains("\"step\": 100")
        .contains("\"bytes_per_token\": 38.5")
        .contains("\"mean_entropy\": 2.0")
        .contains("\"bits_per_weight\": 1.58")
        .doesNotContain("280.0")
        .doesNotContain("271.0")
        .doesNotContain("100.0");
  }
}
