package dev.distill.spark.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ReportJsonTest {
  @Test
  void countsStayIntegersKeysKeepTheirOrderAndNonFiniteNumbersAreNull() {
    Map<String, Object> j = ReportJson.object();
    j.put("records", 280L);
    j.put("a_rate", 0.25);
    j.put("kl", ReportJson.finite(Double.NaN));
    j.put("inf", ReportJson.finite(Double.POSITIVE_INFINITY));
    j.put("list", List.of(1, 2));

    assertThat(ReportJson.toJson(j).replaceAll("\\s", ""))
        .isEqualTo("{\"records\":280,\"a_rate\":0.25,\"kl\":null,\"inf\":null,\"list\":[1,2]}");
  }

  @Test
  void theLayoutIsKeyColonSpaceValueAndEmptyContainersStayTight() {
    Map<String, Object> j = ReportJson.object();
    j.put("kept", 4);
    j.put("filters", List.of());
    j.put("filtered", Map.of());
    assertThat(ReportJson.toJson(j))
        .isEqualTo("{\n  \"kept\": 4,\n  \"filters\": [],\n  \"filtered\": {}\n}\n");
  }

  @Test
  void stringsAreEscaped() {
    Map<String, Object> j = ReportJson.object();
    j.put("path", "a\"b\\c\nd\u0001");
    assertThat(ReportJson.toJson(j)).contains("\"a\\\"b\\\\c\\nd\\u0001\"");
  }

  @Test
  void theCurationReportWritesTheWarningsAndTheOptionsAsStrings() {
    String json =
        CurateJob.reportJson(
            new CurateResult(2, 2, 0, Map.of(), 0, 1, 1, "/o"),
            Map.of("mean_entropy", Map.of(0.5, Double.NaN)),
            List.of(),
            CurateOptions.defaults(),
            List.of("input has \"no\" _SUCCESS"));
    assertThat(json.replaceAll("\\s", ""))
        .contains("\"distributions\":{\"mean_entropy\":{\"q0.5\":null}}")
        .contains("\"near_duplicates\":null")
        .contains("\"warnings\":[\"inputhas\\\"no\\\"_SUCCESS\"]");
  }
}
