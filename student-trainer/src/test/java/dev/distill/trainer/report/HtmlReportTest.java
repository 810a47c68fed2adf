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
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
    HtmlReport.Input in =
        selfCompressed(
            List.of("h0.attn", "h0.fc"),
            new double[] {0.1, 0.4},
            new double[] {1, 50, 100},
            new double[] {8, 5.5, 3.25});
    String html = HtmlReport.render(in);
    assertThat(html).contains("id=\"chart-bits\"", "id=\"chart-sparsity\"", "<td>3.25</td>");
    String bitsChart = html.substring(html.indexOf("id=\"chart-bits\""));
    bitsChart = bitsChart.substring(0, bitsChart.indexOf("</svg>"));
    assertThat(bitsChart).contains("<polyline", "self-compressed-student");
    // one marker per layer in the sparsity chart
    assertThat(html).contains("self-compressed-student: h0.fc, 0.400");
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
    String html = HtmlReport.render(with(base, Map.of(), slices, Map.of(), null));
    assertThat(html).contains("<table id=\"slices\">");
    String table = html.substring(html.indexOf("<table id=\"slices\">"));
    table = table.substring(0, table.indexOf("</table>"));
    // shakespeare has one length bucket: its identical `all` row is dropped
    assertThat(table.split("<tr>")).hasSize(1 + 1 + 2); // preamble, header, rows
    assertThat(table).doesNotContain(">all<");
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

  static String between(String html, String start, String end) {
    String s = html.substring(html.indexOf(start));
    return s.substring(0, s.indexOf(end));
  }

  @Test
  void sizeChartPlotsBytesOnALogAxisAndLeavesTheRandomInitBaselineOutOfTheScale() {
    EvalResult teacher = new EvalResult("teacher", 800_000, 1.7, 1, 0, 0, 0, 3_200_000, cal());
    EvalResult ternary = new EvalResult("ternary", 100_000, 2.05, 1, 0, 0, 0, 65_000, cal());
    EvalResult dense = new EvalResult("kd-student", 100_000, 1.9, 1, 0, 0, 0, 437_000, cal());
    EvalResult random =
        new EvalResult(HtmlReport.RANDOM_INIT, 100_000, 4.2, 1, 0, 0, 0, 437_000, cal());
    String fig = HtmlReport.sizeVsQuality(List.of(teacher, ternary, dense, random));
    String svg = between(fig, "<svg", "</svg>");
    assertThat(svg).contains("bytes on disk (log scale)");
    // markers carry the bytes, not the parameters: two students with equal params differ in x
    assertThat(svg).contains("ternary: 65000, 2.050", "kd-student: 437000, 1.900");
    assertThat(svg).doesNotContain(HtmlReport.RANDOM_INIT, "100000, ");
    assertThat(SvgChartTest.xTicks(svg)).containsExactly("100k", "200k", "500k", "1M", "2M");
    // log scale: the 65 KB and 437 KB students lie log10(437/65) / log10(3.2M/65k) apart
    double xt = cx(svg, "ternary");
    double xd = cx(svg, "kd-student");
    double xT = cx(svg, "teacher");
    assertThat((xd - xt) / (xT - xt))
        .isCloseTo(
            Math.log(437.0 / 65) / Math.log(3200.0 / 65),
            org.assertj.core.data.Offset.offset(0.01));
    assertThat(between(fig, "<figcaption", "</figcaption>"))
        .contains("Not drawn: " + HtmlReport.RANDOM_INIT, "437,000 bytes", "4.2000");
    assertThat(HtmlReport.paretoFront(List.of(teacher, ternary, dense)))
        .extracting(EvalResult::name)
        .containsExactly("ternary", "kd-student", "teacher");
  }

  private static double cx(String svg, String name) {
    Matcher m =
        Pattern.compile("<circle cx=\"([0-9.]+)\"[^>]*><title>" + Pattern.quote(name) + ":")
            .matcher(svg);
    assertThat(m.find()).as(name).isTrue();
    return Double.parseDouble(m.group(1));
  }

  static Calibration cal() {
    Calibration.Builder b = new Calibration.Builder(10);
    b.add(0.5, true);
    return b.build();
  }

  @Test
  void perLayerSparsityChartNamesTheLayersAndHasNoHalfTicks() {
    String html =
        HtmlReport.render(
            selfCompressed(
                List.of("h0.attn", "h0.fc", "h1.attn"),
                new double[] {0.1, 0.4, 0.2},
                new double[] {100},
                new double[] {3.25}));
    String sparsity = between(html, "id=\"chart-sparsity\"", "</svg>");
    assertThat(SvgChartTest.xTicks(sparsity)).containsExactly("h0.attn", "h0.fc", "h1.attn");
    assertThat(sparsity).doesNotContain("-0.5", "NaN");
    // the bits chart has a single step: a marker and one tick, no degenerate axis
    String bits = between(html, "id=\"chart-bits\"", "</svg>");
    assertThat(SvgChartTest.xTicks(bits)).containsExactly("100");
    assertThat(bits).contains("<circle").doesNotContain("NaN", "<polyline");
  }

  @Test
  void costTableHasOneRowPerModelAndOneColumnPerMetric() {
    HtmlReport.Input base = input("kd-student");
    Map<String, Map<String, Object>> cost = new LinkedHashMap<>();
    for (String m : List.of("teacher", "kd-student", "hard-label-student")) {
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("params", 1000.0 * m.length());
      row.put("generation_tokens_per_second", 250L);
      row.put("latency_ms_p50", 3.25);
      cost.put(m, row);
    }
    String html = HtmlReport.render(with(base, Map.of(), List.of(), cost, null));
    String table = between(html, "<table id=\"cost\">", "</table>");
    String[] rows = table.split("<tr>");
    assertThat(rows).hasSize(1 + 1 + 3);
    assertThat(rows[1]).contains("<th>params</th><th>generation tokens per second</th>");
    assertThat(rows[3])
        .contains("<td class=\"name\">kd-student</td><td>10,000</td><td>250</td><td>3.2500</td>");
    assertThat(table).doesNotContain("kd-student.params");
  }

  /** {@code base} with the parts a test adds: compressed students, slices, cost, subword. */
  static HtmlReport.Input with(
      HtmlReport.Input base,
      Map<String, HtmlReport.Compressed> compression,
      List<SliceMetrics.Row> slices,
      Map<String, Map<String, Object>> cost,
      HtmlReport.Subword sw) {
    return new HtmlReport.Input(
        base.title(),
        base.teacher(),
        base.students(),
        base.curves(),
        base.sections(),
        base.gates(),
        compression,
        slices,
        cost,
        sw);
  }

  @Test
  void aTaskWithOneLengthBucketGetsOneRowPerModel() {
    List<SliceMetrics.Row> rows =
        List.of(
            new SliceMetrics.Row("kd", "text", "all", 8, 512, 1.9, 0.7, 0.3, 0.04),
            new SliceMetrics.Row("kd", "text", "[64,256)", 8, 512, 1.9, 0.7, 0.3, 0.04),
            new SliceMetrics.Row("kd", "arith", "all", 9, 300, 0.5, 0.9, 0.1, 0.02),
            new SliceMetrics.Row("kd", "arith", "[0,64)", 5, 100, 0.4, 0.9, 0.1, 0.02),
            new SliceMetrics.Row("kd", "arith", "[64,256)", 4, 200, 0.6, 0.9, 0.1, 0.02),
            new SliceMetrics.Row("kd", "only-all", "all", 3, 30, 0.6, 0.9, 0.1, 0.02));
    assertThat(HtmlReport.oneRowPerSingleBucket(rows))
        .extracting(r -> r.task() + " " + r.lengthBucket())
        .containsExactly(
            "text [64,256)", "arith all", "arith [0,64)", "arith [64,256)", "only-all all");
  }

  @Test
  void headlineNumbersAreTheReportsParamsBytesAndGapShare() {
    EvalResult teacher = new EvalResult("teacher", 800_000, 1.5, 1, 0, 0, 0, 3_200_000, cal());
    EvalResult hard =
        new EvalResult(HtmlReport.HARD_LABEL, 104_000, 2.5, 1, 0, 0, 0, 416_000, cal());
    EvalResult kd = new EvalResult("kd-student", 104_000, 2.4, 1, 0, 0, 0, 416_000, cal());
    EvalResult worse = new EvalResult("ternary", 104_000, 2.75, 1, 0, 0, 0, 26_000, cal());
    assertThat(HtmlReport.gapClosed(1.5, 2.5, 2.4))
        .isCloseTo(0.1, org.assertj.core.data.Offset.offset(1e-12));
    assertThat(HtmlReport.headline(teacher, kd, hard))
        .startsWith(
            "kd-student: 13% of the teacher's parameters, 13% of its bytes, closes 10% of the gap"
                + " between the hard-label student and the teacher (held-out loss 2.4000;"
                + " hard-label 2.5000, teacher 1.5000)");
    // worse than the hard-label student: a negative share, said as such
    assertThat(HtmlReport.headline(teacher, worse, hard))
        .contains(
            "0.8% of its bytes", "closes -25% of the gap", "worse than the hard-label student");
    // a hard-label student at or below the teacher's loss leaves no gap: no share is invented
    EvalResult strongHard =
        new EvalResult(HtmlReport.HARD_LABEL, 104_000, 1.4, 1, 0, 0, 0, 416_000, cal());
    assertThat(HtmlReport.headline(teacher, kd, strongHard))
        .contains("no gap to close")
        .doesNotContain("closes", "NaN");
    // rendered page: one sentence per student, none for the random-init floor
    HtmlReport.Input base = input("kd-student");
    String html =
        HtmlReport.render(
            new HtmlReport.Input(
                base.title(),
                teacher,
                List.of(
                    kd,
                    hard,
                    new EvalResult(
                        HtmlReport.RANDOM_INIT, 104_000, 4.2, 1, 0, 0, 0, 416_000, cal())),
                base.curves(),
                base.sections(),
                base.gates()));
    String list = between(html, "<ul id=\"headlines\">", "</ul>");
    assertThat(list.split("<li>")).hasSize(1 + 2);
    assertThat(list).contains("closes 10% of the gap").doesNotContain(HtmlReport.RANDOM_INIT);
  }

  @Test
  void subwordWorkloadGetsItsOwnTableWithPerTokenAndPerCharacterLoss() {
    EvalResult t = new EvalResult("teacher", 400_000, 3.0, 1, 0, 0, 0, 1_600_000, cal());
    EvalResult kd = new EvalResult("kd-student", 50_000, 4.0, 0.4, 0.7, 0.8, 0.1, 200_000, cal());
    String html =
        HtmlReport.render(
            with(
                input("x"),
                Map.of(),
                List.of(),
                Map.of(),
                new HtmlReport.Subword(t, List.of(kd), 2.5)));
    String table = between(html, "<table id=\"subword\">", "</table>");
    assertThat(table.split("<tr>")).hasSize(1 + 1 + 2);
    assertThat(table)
        .contains("val_loss_per_char")
        .contains(
            "<td class=\"name\">kd-student</td><td>50,000</td><td>0.125</td><td>200,000</td>"
                + "<td>4.0000</td><td>1.6000</td><td>0.4000</td><td>0.7000</td>");
    assertThat(html).contains("<ul id=\"subword-headlines\">");
    // without the workload there is no table
    assertThat(HtmlReport.render(input("x"))).doesNotContain("id=\"subword\"", "id=\"cost\"");
  }

  /** A report whose one student, self-compressed-student, ends at 3.25 bits per weight. */
  private static HtmlReport.Input selfCompressed(
      List<String> layers, double[] sparsity, double[] steps, double[] bits) {
    return with(
        input("self-compressed-student"),
        Map.of(
            "self-compressed-student",
            new HtmlReport.Compressed(3.25, layers, sparsity, steps, bits)),
        List.of(),
        Map.of(),
        null);
  }
}
