package dev.distill.trainer.report;

import dev.distill.trainer.evaluation.EvalResult;
import dev.distill.trainer.evaluation.Gate;
import dev.distill.trainer.evaluation.SliceMetrics;
import dev.distill.trainer.training.TrainResult;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One self-contained {@code report.html}: tables and inline SVG charts, no external resources, all
 * text escaped. A small inline script checks that every chart rendered and records the result in
 * {@code body[data-status]} (what the browser test reads).
 */
public final class HtmlReport {

  /**
   * What the report shows.
   *
   * @param title page title
   * @param teacher the teacher's evaluation
   * @param students every student's evaluation (and baselines)
   * @param curves training curves by student name (missing for models not trained here)
   * @param sections extra key/value tables by heading (soft labels, curation, timings, config)
   * @param gates gate outcomes, empty when none were given
   * @param compression compressed students by name (bits per weight, per-layer sparsity, bits per
   *     weight over training); students not in it are dense float32
   * @param slices quality per (task, length bucket) of every model, empty for none
   */
  public record Input(
      String title,
      EvalResult teacher,
      List<EvalResult> students,
      Map<String, TrainResult> curves,
      Map<String, Map<String, Object>> sections,
      List<Gate.Outcome> gates,
      Map<String, Compressed> compression,
      List<SliceMetrics.Row> slices) {
    /** Without per-slice rows. */
    public Input(
        String title,
        EvalResult teacher,
        List<EvalResult> students,
        Map<String, TrainResult> curves,
        Map<String, Map<String, Object>> sections,
        List<Gate.Outcome> gates,
        Map<String, Compressed> compression) {
      this(title, teacher, students, curves, sections, gates, compression, List.of());
    }

    /** Without compressed students. */
    public Input(
        String title,
        EvalResult teacher,
        List<EvalResult> students,
        Map<String, TrainResult> curves,
        Map<String, Map<String, Object>> sections,
        List<Gate.Outcome> gates) {
      this(title, teacher, students, curves, sections, gates, Map.of());
    }
  }

  /**
   * A compressed student's size facts.
   *
   * @param bitsPerWeight payload bits per block linear weight
   * @param layers block linear layer names, in order
   * @param sparsity fraction of zero weights per layer (same order)
   * @param steps training steps at which {@code bits} was recorded (empty when not learned)
   * @param bits bits per weight over training
   */
  public record Compressed(
      double bitsPerWeight,
      List<String> layers,
      double[] sparsity,
      double[] steps,
      double[] bits) {}

  private HtmlReport() {}

  public static String render(Input in) {
    StringBuilder sb = new StringBuilder();
    sb.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
        .append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';")
        .append(" style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">")
        .append("<title>")
        .append(Html.escape(in.title()))
        .append("</title><style>")
        .append("body{font-family:sans-serif;margin:24px;color:#222}")
        .append("table{border-collapse:collapse;margin:8px 0 20px}")
        .append("td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}")
        .append("th{background:#f4f4f4}td.name,th.name{text-align:left}")
        .append(".pass{color:#2a7a2a}.fail{color:#b22}")
        .append(".charts{display:flex;flex-wrap:wrap;gap:16px}")
        .append("</style></head><body data-status=\"loading\">\n");
    sb.append("<h1>").append(Html.escape(in.title())).append("</h1>\n");

    sb.append("<h2>Student vs teacher on held-out text</h2>\n<table id=\"models\"><tr>")
        .append("<th class=\"name\">model</th><th>params</th><th>size vs teacher</th>")
        .append("<th>val loss (nats/token)</th><th>perplexity</th><th>top-1 agreement</th>")
        .append("<th>KL(teacher||model)</th><th>KL(model||teacher)</th><th>JSD</th>")
        .append("<th>ECE</th><th>bits/weight</th><th>bytes on disk</th></tr>\n");
    List<EvalResult> all = new ArrayList<>();
    all.add(in.teacher());
    all.addAll(in.students());
    for (EvalResult r : all) {
      sb.append("<tr><td class=\"name\">")
          .append(Html.escape(r.name()))
          .append("</td><td>")
          .append(String.format(Locale.ROOT, "%,d", r.params()))
          .append("</td><td>")
          .append(String.format(Locale.ROOT, "%.3f", (double) r.params() / in.teacher().params()))
          .append("</td><td>")
          .append(num(r.valLoss()))
          .append("</td><td>")
          .append(num(r.perplexity()))
          .append("</td><td>")
          .append(num(r.top1Agreement()))
          .append("</td><td>")
          .append(num(r.klTeacherStudent()))
          .append("</td><td>")
          .append(num(r.reverseKl()))
          .append("</td><td>")
          .append(num(r.jsd()))
          .append("</td><td>")
          .append(num(r.calibration().ece()))
          .append("</td><td>")
          .append(
              in.compression().containsKey(r.name())
                  ? String.format(
                      Locale.ROOT, "%.2f", in.compression().get(r.name()).bitsPerWeight())
                  : "32")
          .append("</td><td>")
          .append(String.format(Locale.ROOT, "%,d", r.bytesOnDisk()))
          .append("</td></tr>\n");
    }
    sb.append("</table>\n");

    if (!in.slices().isEmpty()) {
      sb.append(slicesTable(in.slices()));
    }

    if (!in.gates().isEmpty()) {
      sb.append("<h2>Gates</h2>\n<ul id=\"gates\">");
      for (Gate.Outcome g : in.gates()) {
        sb.append("<li class=\"")
            .append(g.passed() ? "pass" : "fail")
            .append("\">")
            .append(Html.escape(g.toString()))
            .append("</li>");
      }
      sb.append("</ul>\n");
    }

    sb.append("<h2>Charts</h2>\n<div class=\"charts\">\n");
    sb.append(lossCurves(in.curves())).append('\n');
    sb.append(sizeVsQuality(all)).append('\n');
    sb.append(calibration(all)).append('\n');
    if (in.compression().values().stream().anyMatch(c -> c.steps().length > 0)) {
      sb.append(bitsOverTraining(in.compression())).append('\n');
    }
    if (in.compression().values().stream().anyMatch(c -> !c.layers().isEmpty())) {
      sb.append(layerSparsity(in.compression())).append('\n');
    }
    sb.append("</div>\n");

    for (Map.Entry<String, Map<String, Object>> section : in.sections().entrySet()) {
      sb.append("<h2>").append(Html.escape(section.getKey())).append("</h2>\n<table>");
      for (Map.Entry<String, Object> e : section.getValue().entrySet()) {
        sb.append("<tr><th class=\"name\">")
            .append(Html.escape(e.getKey()))
            .append("</th><td class=\"name\">")
            .append(Html.escape(value(e.getValue())))
            .append("</td></tr>");
      }
      sb.append("</table>\n");
    }

    sb.append("<script>\n")
        .append("window.onerror=function(m){document.body.dataset.status='error: '+m;};\n")
        .append("(function(){var charts=document.querySelectorAll('svg.chart');var bad=[];\n")
        .append("charts.forEach(function(c){var b=c.getBBox();\n")
        .append(" if(!(b.width>0&&b.height>0)||c.querySelectorAll('polyline,circle').length==0)")
        .append("bad.push(c.id);});\n")
        .append("document.body.dataset.charts=String(charts.length);\n")
        .append("document.body.dataset.status=bad.length?'error: empty chart '+bad.join(','):'ok';")
        .append("})();\n</script>\n</body></html>\n");
    return sb.toString();
  }

  /**
   * Quality per (task, length bucket): each task's models against that task's teacher, the
   * all-lengths row first. Every name is data and escaped.
   */
  private static String slicesTable(List<SliceMetrics.Row> rows) {
    StringBuilder sb = new StringBuilder();
    sb.append("<h2>Per slice: task and length bucket</h2>\n<table id=\"slices\"><tr>")
        .append("<th class=\"name\">task</th><th class=\"name\">length bucket (positions)</th>")
        .append("<th class=\"name\">model</th><th>examples</th><th>tokens</th>")
        .append("<th>loss (nats/token)</th><th>top-1 agreement</th>")
        .append("<th>KL(teacher||model)</th><th>ECE</th></tr>\n");
    for (SliceMetrics.Row r : rows) {
      sb.append("<tr><td class=\"name\">")
          .append(Html.escape(r.task()))
          .append("</td><td class=\"name\">")
          .append(Html.escape(r.lengthBucket()))
          .append("</td><td class=\"name\">")
          .append(Html.escape(r.model()))
          .append("</td><td>")
          .append(String.format(Locale.ROOT, "%,d", r.examples()))
          .append("</td><td>")
          .append(String.format(Locale.ROOT, "%,d", r.tokens()))
          .append("</td><td>")
          .append(num(r.loss()))
          .append("</td><td>")
          .append(num(r.top1Agreement()))
          .append("</td><td>")
          .append(num(r.forwardKl()))
          .append("</td><td>")
          .append(num(r.ece()))
          .append("</td></tr>\n");
    }
    return sb.append("</table>\n").toString();
  }

  /** Bits per weight over training, one line per self-compressing student (the paper's figure). */
  private static String bitsOverTraining(Map<String, Compressed> compression) {
    List<SvgChart.Series> series = new ArrayList<>();
    for (Map.Entry<String, Compressed> e : compression.entrySet()) {
      if (e.getValue().steps().length > 0) {
        series.add(
            new SvgChart.Series(
                e.getKey(), e.getValue().steps(), e.getValue().bits(), true, false));
      }
    }
    return SvgChart.render(
        "chart-bits",
        "Bits per weight over training",
        "step",
        "bits per weight",
        series,
        false,
        null);
  }

  /** Sparsity of every block linear layer, one marker series per compressed student. */
  private static String layerSparsity(Map<String, Compressed> compression) {
    List<SvgChart.Series> series = new ArrayList<>();
    for (Map.Entry<String, Compressed> e : compression.entrySet()) {
      int n = e.getValue().layers().size();
      if (n == 0) {
        continue;
      }
      double[] x = new double[n];
      for (int i = 0; i < n; i++) {
        x[i] = i;
      }
      series.add(new SvgChart.Series(e.getKey(), x, e.getValue().sparsity(), false, false));
    }
    String order =
        compression.values().stream()
            .filter(c -> !c.layers().isEmpty())
            .findFirst()
            .map(c -> String.join(", ", c.layers()))
            .orElse("");
    return SvgChart.render(
        "chart-sparsity",
        "Per-layer sparsity (fraction of zero weights)",
        "layer index (" + order + ")",
        "sparsity",
        series,
        false,
        new double[] {-0.5, series.get(0).x().length - 0.5, 0, 1});
  }

  private static String lossCurves(Map<String, TrainResult> curves) {
    List<SvgChart.Series> series = new ArrayList<>();
    for (Map.Entry<String, TrainResult> e : curves.entrySet()) {
      List<TrainResult.CurvePoint> pts = e.getValue().curve();
      double[] x = new double[pts.size()];
      double[] train = new double[pts.size()];
      double[] val = new double[pts.size()];
      for (int i = 0; i < pts.size(); i++) {
        x[i] = pts.get(i).step();
        train[i] = pts.get(i).trainLoss();
        val[i] = pts.get(i).valLoss();
      }
      series.add(new SvgChart.Series(e.getKey() + " train", x, train, true, true));
      series.add(new SvgChart.Series(e.getKey() + " val", x, val, true, false));
    }
    return SvgChart.render(
        "chart-loss",
        "Training and validation loss (each model's own objective)",
        "step",
        "loss",
        series,
        false,
        null);
  }

  private static String sizeVsQuality(List<EvalResult> all) {
    List<SvgChart.Series> series = new ArrayList<>();
    for (EvalResult r : all) {
      series.add(
          new SvgChart.Series(
              r.name(), new double[] {r.params()}, new double[] {r.valLoss()}, false, false));
    }
    List<EvalResult> front = paretoFront(all);
    double[] fx = new double[front.size()];
    double[] fy = new double[front.size()];
    for (int i = 0; i < front.size(); i++) {
      fx[i] = front.get(i).params();
      fy[i] = front.get(i).valLoss();
    }
    series.add(new SvgChart.Series("Pareto front", fx, fy, true, true));
    return SvgChart.render(
        "chart-pareto",
        "Size vs quality",
        "parameters",
        "val loss (nats/token)",
        series,
        true,
        null);
  }

  /** Models that no other model beats on both size and loss, smallest first. */
  static List<EvalResult> paretoFront(List<EvalResult> all) {
    List<EvalResult> sorted =
        all.stream()
            .sorted(
                Comparator.comparingLong(EvalResult::params)
                    .thenComparingDouble(EvalResult::valLoss))
            .toList();
    List<EvalResult> front = new ArrayList<>();
    double best = Double.POSITIVE_INFINITY;
    for (EvalResult r : sorted) {
      if (r.valLoss() < best) {
        best = r.valLoss();
        front.add(r);
      }
    }
    return front;
  }

  private static String calibration(List<EvalResult> all) {
    List<SvgChart.Series> series = new ArrayList<>();
    series.add(
        new SvgChart.Series("perfect", new double[] {0, 1}, new double[] {0, 1}, true, true));
    for (EvalResult r : all) {
      List<double[]> pts = new ArrayList<>();
      for (int b = 0; b < r.calibration().count().length; b++) {
        if (r.calibration().count()[b] > 0) {
          pts.add(new double[] {r.calibration().confidence()[b], r.calibration().accuracy()[b]});
        }
      }
      double[] x = new double[pts.size()];
      double[] y = new double[pts.size()];
      for (int i = 0; i < pts.size(); i++) {
        x[i] = pts.get(i)[0];
        y[i] = pts.get(i)[1];
      }
      series.add(new SvgChart.Series(r.name(), x, y, true, false));
    }
    return SvgChart.render(
        "chart-calibration",
        "Calibration (top-1)",
        "confidence",
        "accuracy",
        series,
        false,
        new double[] {0, 1, 0, 1});
  }

  /** Numbers read back from JSON are doubles; show whole ones as integers. */
  static String value(Object v) {
    if (v instanceof Double d && d == Math.rint(d) && Math.abs(d) < 1e15) {
      return Long.toString(d.longValue());
    }
    return String.valueOf(v);
  }

  private static String num(double v) {
    return String.format(Locale.ROOT, "%.4f", v);
  }
}
