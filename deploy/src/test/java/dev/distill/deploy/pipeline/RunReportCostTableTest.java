package dev.distill.deploy.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** report.json's cost section becomes one HTML row per model (issue 17). */
class RunReportCostTableTest {
  @Test
  void everyModelOfTheCostSectionIsOneRowWithItsMetricsInOrder() {
    Map<String, Object> cost = new LinkedHashMap<>();
    cost.put("teacher", Facts.ordered("params", 800_000L, "latency_ms_p50", 4.5));
    cost.put("kd-student", Facts.ordered("params", 100_000L, "latency_ms_p50", 1.25));
    cost.put("note", "not a model");

    Map<String, Map<String, Object>> rows = ReportHtml.costTable(cost);

    assertThat(rows).containsOnlyKeys("teacher", "kd-student");
    assertThat(rows.get("kd-student"))
        .containsExactly(Map.entry("params", 100_000L), Map.entry("latency_ms_p50", 1.25));
  }
}
