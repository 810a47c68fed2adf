package dev.distill.trainer.report;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.trainer.evaluation.Calibration;
import dev.distill.trainer.evaluation.EvalResult;
import dev.distill.trainer.evaluation.Gate;
import dev.distill.trainer.evaluation.SliceMetrics;
import dev.distill.trainer.training.TrainResult;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HtmlReportTest {

  static EvalResult result(String name, long params, double loss) {
    Calibration.Builder b = new Calibration.Builder(10);
    b.add(0.5, true);
    b.add(0.9, true);
    return new EvalResult(name, params, loss, 0.8, 0.1, 0.12, 0.03, params * 4, b.build());
  }

  static HtmlReport.Input input(String studentName) {
    TrainResult tr =
        new TrainResult(
            List.of(
                new TrainResult.CurvePoint(10, 2.0, 2.1), new TrainResult.CurvePoint(20, 1.5, 1.6)),
            1.6,
            1000,
            1);
    Map<String, Map<String, Object>> sections = new LinkedHashMap<>();
    sections.put("Soft labels", Map.of("bytes_per_token", 26.1));
    return new HtmlReport.Input(
        "distill report",
        result("teacher", 800_000, 1.7),
        List.of(result(studentName, 100_000, 1.9)),
        Map.of(studentName, tr),
        sections,
        List.of(new Gate.Outcome("student.val_loss <= 2", true, 1.9, 2)));
  }

  @Test
  void everyChartIsInlineSvgAndNothingIsFetched() {
    String html = HtmlReport.render(input("kd-student"));
    assertThat(html)
        .contains("id=\"chart-loss\"", "id=\"chart-pareto\"", "id=\"chart-calibration\"");
    // Nothing is loaded at view time (the SVG namespace URI is an identifier, never fetched).
    assertThat(html.replace("xmlns=\"http://www.w3.org/2000/svg\"", ""))
        .doesNotContain("http://", "https://", "src=", "href=", "<link", "@import", "url(")
        .contains("<svg class=\"chart\"");
    assertThat(html).contains("kd-student", "0.125", "26.1", "PASS student.val_loss &lt;= 2");
  }

  @Test
  void namesAreEscapedBecauseTheyAreData() {
    String html = HtmlReport.render(input("<script>alert(1)</script>"));
    assertThat(html).doesNotContain("<script>alert(1)</script>").contains("&lt;script&gt;alert(1)");
  }

  @Test
  void paretoFrontKeepsOnlyModelsNoOtherBeatsOnSizeAndLoss() {
    List<EvalResult> front =
        HtmlReport.paretoFront(
            List.of(
                result("teacher", 800_000, 1.7),
                result("small-good", 100_000, 1.8),
                result("small-bad", 120_000, 2.5),
                result("tiny", 10_000, 3.0)));
    assertThat(front).extracting(EvalResult::name).containsExactly("tiny", "small-good", "teacher");
  }

  @Test
  void compressedStudentsGetBitsPerWeightAndSparsityCharts() {
    HtmlReport.Input base = input("self-compressed-student");
    HtmlReport.Input in =
        new HtmlReport.Input(
            base.title(),
            base.teacher(),
            base.students(),
            base.curves(),
            base.sections(),
            base.gates(),
            Map.of(
                "self-compressed-student",
                new HtmlReport.Compressed(
                    3.25,
                    List.of("h0.attn", "h0.fc"),
                    new double[] {0.1, 0.4},
                    new double[] {1, 50, 100},
                    new double[] {8, 5.5, 3.25})));
    String html = HtmlReport.render(in);
    assertThat(html).contains("id=\"chart-bits\"", "id=\"chart-sparsity\"", "<td>3.25</td>");
    String bitsChart = html.substring(html.indexOf("id=\"chart-bits\""));
    bitsChart = bitsChart.substring(0, bitsChart.indexOf("</svg>"));
    assertThat(bitsChart).contains("<polyline", "self-compressed-student");
    // one marker per layer in the sparsity chart
    assertThat(html).contains("self-compressed-student: 1, 0.400");
    // without compressed students neither chart is drawn and dense models show 32 bits
    String dense = HtmlReport.render(input("kd-student"));
    assertThat(dense).doesNotContain("chart-bits", "chart-sparsity").contains("<td>32</td>");
  }

  @Test
  void perSliceTableShowsEveryTaskAndLengthBucketWithEscapedNames() {
    HtmlReport.Input base = input("kd-student");
    List<SliceMetrics.Row> slices =
        List.of(
            new SliceMetrics.Row(
                "kd-student", "shakespeare", "all", 8, 512, 1.91, 0.72, 0.31, 0.04),
            new SliceMetrics.Row(
                "kd-student", "shakespeare", "[64,256)", 8, 512, 1.91, 0.72, 0.31, 0.04),
            new SliceMetrics.Row(
                "<b>cot</b>", "arithmetic", "[0,64)", 12, 400, 0.4567, 0.9, 0.05, 0.02));
    String html =
        HtmlReport.render(
            new HtmlReport.Input(
                base.title(),
                base.teacher(),
                base.students(),
                base.curves(),
                base.sections(),
                base.gates(),
                Map.of(),
                slices));
    assertThat(html).contains("<table id=\"slices\">");
    String table = html.substring(html.indexOf("<table id=\"slices\">"));
    table = table.substring(0, table.indexOf("</table>"));
    assertThat(table.split("<tr>")).hasSize(1 + 1 + slices.size()); // preamble, header, rows
    assertThat(table)
        .contains(
            "<td class=\"name\">arithmetic</td><td class=\"name\">[0,64)</td>"
                + "<td class=\"name\">&lt;b&gt;cot&lt;/b&gt;</td><td>12</td><td>400</td>"
                + "<td>0.4567</td><td>0.9000</td><td>0.0500</td><td>0.0200</td>")
        .contains("[64,256)")
        .doesNotContain("<b>cot</b>");
    // without slices there is no table
    assertThat(HtmlReport.render(base)).doesNotContain("id=\"slices\"");
  }
}
