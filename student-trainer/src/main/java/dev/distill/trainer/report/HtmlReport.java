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
   * @param cost inference cost by model, then by metric (one table row per model), empty for none
   * @param subword the subword workload's evaluation, or null when it did not run
   */
  public record Input(
      String title,
      EvalResult teacher,
      List<EvalResult> students,
      Map<String, TrainResult> curves,
      Map<String, Map<String, Object>> sections,
      List<Gate.Outcome> gates,
      Map<String, Compressed> compression,
      List<SliceMetrics.Row> slices,
      Map<String, Map<String, Object>> cost,
      Subword subword) {
    /** Dense students only: no compressed students, slices, cost table or subword workload. */
    public Input(
        String title,
        EvalResult teacher,
        List<EvalResult> students,
        Map<String, TrainResult> curves,
        Map<String, Map<String, Object>> sections,
        List<Gate.Outcome> gates) {
      this(title, teacher, students, curves, sections, gates, Map.of(), List.of(), Map.of(), null);
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

  /**
   * The subword workload's evaluation: its teacher and models in nats per BPE token, and per
   * character as per token / {@code charsPerToken} (so comparable with the char workload).
   *
   * @param teacher the subword teacher
   * @param students the subword students
   * @param charsPerToken characters per scored token of the held-out text
   */
  public record Subword(EvalResult teacher, List<EvalResult> students, double charsPerToken) {}

  /** The student trained on hard labels only: the reference of a headline's gap. */
  public static final String HARD_LABEL = "hard-label-student";

  /**
   * The untrained baseline: the floor of the main table, left out of the size chart and headlines.
   */
  public static final String RANDOM_INIT = "random-init-student";

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
    sb.append(headlines("headlines", in.teacher(), in.students()));

    List<EvalResult> all = new ArrayList<>();
    all.add(in.teacher());
    all.addAll(in.students());
    HtmlTable models =
        new HtmlTable("models")
            .names("model")
            .numbers(
                "params",
                "size vs teacher",
                "val loss (nats/token)",
                "perplexity",
                "top-1 agreement",
                "KL(teacher||model)",
                "KL(model||teacher)",
                "JSD",
                "ECE",
                "bits/weight",
                "bytes on disk");
    for (EvalResult r : all) {
      Compressed c = in.compression().get(r.name());
      models.row(
          identity(r, in.teacher()),
          num(r.valLoss()),
          num(r.perplexity()),
          num(r.top1Agreement()),
          num(r.klTeacherStudent()),
          num(r.reverseKl()),
          num(r.jsd()),
          num(r.calibration().ece()),
          c == null ? "32" : String.format(Locale.ROOT, "%.2f", c.bitsPerWeight()),
          count(r.bytesOnDisk()));
    }
    sb.append("<h2>Student vs teacher on held-out text</h2>\n").append(models.render());

    // The charts come right after the main table, so the first screen shows them.
    sb.append("<h2>Charts</h2>\n<div class=\"charts\">\n");
    sb.append(lossCurves(in.curves())).append('\n');
    sb.append(sizeVsQuality(all));
    sb.append(calibration(all)).append('\n');
    if (in.compression().values().stream().anyMatch(c -> c.steps().length > 0)) {
      sb.append(bitsOverTraining(in.compression())).append('\n');
    }
    if (in.compression().values().stream().anyMatch(c -> !c.layers().isEmpty())) {
      sb.append(layerSparsity(in.compression())).append('\n');
    }
    sb.append("</div>\n");

    if (in.subword() != null) {
      sb.append(subwordTable(in.subword()));
    }
    if (!in.cost().isEmpty()) {
      sb.append(costTable(in.cost()));
    }
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
    HtmlTable table =
        new HtmlTable("slices")
            .names("task", "length bucket (positions)", "model")
            .numbers(
                "examples",
                "tokens",
                "loss (nats/token)",
                "top-1 agreement",
                "KL(teacher||model)",
                "ECE");
    for (SliceMetrics.Row r : oneRowPerSingleBucket(rows)) {
      table.row(
          r.task(),
          r.lengthBucket(),
          r.model(),
          count(r.examples()),
          count(r.tokens()),
          num(r.loss()),
          num(r.top1Agreement()),
          num(r.forwardKl()),
          num(r.ece()));
    }
    return "<h2>Per slice: task and length bucket</h2>\n" + table.render();
  }

  /**
   * Drops the {@code all} row of every (task, model) whose examples fall in one length bucket: that
   * row repeats the bucket's row (issue 17). The bucket row stays, since it says where the lengths
   * lie.
   */
  static List<SliceMetrics.Row> oneRowPerSingleBucket(List<SliceMetrics.Row> rows) {
    Map<String, Integer> buckets = new java.util.HashMap<>();
    for (SliceMetrics.Row r : rows) {
      if (!r.lengthBucket().equals(SliceMetrics.ALL)) {
        buckets.merge(r.task() + "\u0000" + r.model(), 1, Integer::sum);
      }
    }
    return rows.stream()
        .filter(
            r ->
                !(r.lengthBucket().equals(SliceMetrics.ALL)
                    && buckets.getOrDefault(r.task() + "\u0000" + r.model(), 0) == 1))
        .toList();
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
        null,
        List.of());
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
    // Every compressed student of a run has the same block layers; the longest list names the axis.
    List<String> names =
        compression.values().stream()
            .map(Compressed::layers)
            .max(Comparator.comparingInt(List::size))
            .orElse(List.of());
    return SvgChart.render(
        "chart-sparsity",
        "Per-layer sparsity (fraction of zero weights)",
        "layer",
        "sparsity",
        series,
        false,
        new double[] {0, 1, 0, 1},
        names);
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
        null,
        List.of());
  }

  /**
   * Held-out loss against bytes on disk (log scale: a 65 KB ternary student and a 437 KB dense one
   * differ by the factor that matters), with the Pareto front. The random-init baseline is left out
   * of the chart (its loss squashes every other model into one band) and the caption says so.
   */
  static String sizeVsQuality(List<EvalResult> all) {
    List<EvalResult> shown =
        all.stream().filter(r -> !r.name().equals(RANDOM_INIT) && r.bytesOnDisk() > 0).toList();
    List<SvgChart.Series> series = new ArrayList<>();
    for (EvalResult r : shown) {
      series.add(
          new SvgChart.Series(
              r.name(), new double[] {r.bytesOnDisk()}, new double[] {r.valLoss()}, false, false));
    }
    List<EvalResult> front = paretoFront(shown);
    double[] fx = new double[front.size()];
    double[] fy = new double[front.size()];
    for (int i = 0; i < front.size(); i++) {
      fx[i] = front.get(i).bytesOnDisk();
      fy[i] = front.get(i).valLoss();
    }
    series.add(new SvgChart.Series("Pareto front", fx, fy, true, true));
    StringBuilder caption =
        new StringBuilder("Held-out loss against bytes on disk (log scale); dashed: Pareto front.");
    for (EvalResult r : all) {
      if (!shown.contains(r)) {
        caption.append(
            String.format(
                Locale.ROOT,
                " Not drawn: %s (%s, loss %s)%s.",
                r.name(),
                r.bytesOnDisk() > 0
                    ? String.format(Locale.ROOT, "%,d bytes", r.bytesOnDisk())
                    : "not saved to disk",
                num(r.valLoss()),
                r.name().equals(RANDOM_INIT)
                    ? ", the untrained floor, which would squash the scale"
                    : ""));
      }
    }
    return "<figure id=\"figure-pareto\" style=\"margin:0\">"
        + SvgChart.render(
            "chart-pareto",
            "Size vs quality",
            "bytes on disk",
            "val loss (nats/token)",
            series,
            true,
            null,
            List.of())
        + "<figcaption style=\"max-width:560px;font-size:12px\">"
        + Html.escape(caption.toString())
        + "</figcaption></figure>\n";
  }

  /** Models that no other model beats on both bytes on disk and loss, smallest first. */
  static List<EvalResult> paretoFront(List<EvalResult> all) {
    List<EvalResult> sorted =
        all.stream()
            .sorted(
                Comparator.comparingLong(EvalResult::bytesOnDisk)
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
        new double[] {0, 1, 0, 1},
        List.of());
  }

  /**
   * Share of the hard-label student's held-out-loss gap to the teacher that a student closes:
   * {@code (L_hard - L_student) / (L_hard - L_teacher)}, losses in nats per token on the held-out
   * text (issue 17). 1 means the student matches the teacher, 0 the hard-label student; negative
   * means the student is worse than the hard-label student. NaN when there is no gap ({@code L_hard
   * <= L_teacher}).
   */
  public static double gapClosed(double teacherLoss, double hardLabelLoss, double studentLoss) {
    double gap = hardLabelLoss - teacherLoss;
    if (!(gap > 0)) {
      return Double.NaN;
    }
    return (hardLabelLoss - studentLoss) / gap;
  }

  /**
   * One sentence per student: its share of the teacher's parameters and bytes, and the share of the
   * hard-label student's gap it closes ({@link #gapClosed}).
   */
  static String headline(EvalResult teacher, EvalResult student, EvalResult hardLabel) {
    StringBuilder sb = new StringBuilder(student.name()).append(": ");
    sb.append(pct((double) student.params() / teacher.params()))
        .append(" of the teacher's parameters");
    if (teacher.bytesOnDisk() > 0) {
      sb.append(", ")
          .append(pct((double) student.bytesOnDisk() / teacher.bytesOnDisk()))
          .append(" of its bytes");
    }
    if (hardLabel == null) {
      sb.append(
          String.format(
              Locale.ROOT,
              "; held-out loss %s (teacher %s), no hard-label student to compare with",
              num(student.valLoss()),
              num(teacher.valLoss())));
    } else if (student.name().equals(hardLabel.name())) {
      sb.append(
          String.format(
              Locale.ROOT,
              "; held-out loss %s (teacher %s): the reference the gap is measured from",
              num(student.valLoss()),
              num(teacher.valLoss())));
    } else {
      double share = gapClosed(teacher.valLoss(), hardLabel.valLoss(), student.valLoss());
      if (Double.isNaN(share)) {
        sb.append(
            String.format(
                Locale.ROOT,
                "; the hard-label student's held-out loss (%s) is not above the teacher's (%s), so"
                    + " there is no gap to close (this student: %s)",
                num(hardLabel.valLoss()),
                num(teacher.valLoss()),
                num(student.valLoss())));
      } else {
        sb.append(", closes ")
            .append(pct(share))
            .append(" of the gap between the hard-label student and the teacher")
            .append(
                String.format(
                    Locale.ROOT,
                    " (held-out loss %s; hard-label %s, teacher %s)",
                    num(student.valLoss()),
                    num(hardLabel.valLoss()),
                    num(teacher.valLoss())));
        if (share < 0) {
          sb.append(": worse than the hard-label student");
        }
      }
    }
    return sb.append('.').toString();
  }

  private static String headlines(String id, EvalResult teacher, List<EvalResult> students) {
    EvalResult hard =
        students.stream().filter(s -> s.name().equals(HARD_LABEL)).findFirst().orElse(null);
    StringBuilder sb = new StringBuilder("<ul id=\"").append(id).append("\">");
    int n = 0;
    for (EvalResult s : students) {
      if (!s.name().equals(RANDOM_INIT)) {
        sb.append("<li>").append(Html.escape(headline(teacher, s, hard))).append("</li>");
        n++;
      }
    }
    return n == 0 ? "" : sb.append("</ul>\n").toString();
  }

  /** Percent, whole above 10%, one decimal below; negative shares keep their sign. */
  static String pct(double share) {
    double p = share * 100;
    return String.format(Locale.ROOT, Math.abs(p) >= 10 ? "%.0f%%" : "%.1f%%", p);
  }

  /** The cost section: one row per model, one column per metric (union, first-seen order). */
  static String costTable(Map<String, Map<String, Object>> cost) {
    List<String> metrics = new ArrayList<>();
    for (Map<String, Object> m : cost.values()) {
      for (String k : m.keySet()) {
        if (!metrics.contains(k)) {
          metrics.add(k);
        }
      }
    }
    HtmlTable table = new HtmlTable("cost").names("model");
    metrics.forEach(k -> table.numbers(k.replace('_', ' ')));
    for (Map.Entry<String, Map<String, Object>> e : cost.entrySet()) {
      List<String> cells = new ArrayList<>(List.of(e.getKey()));
      for (String k : metrics) {
        Object v = e.getValue().get(k);
        cells.add(v == null ? "" : cell(v));
      }
      table.row(cells);
    }
    return "<h2>Inference cost</h2>\n" + table.render();
  }

  /** The subword workload's models, as the char table: per token and per character. */
  static String subwordTable(Subword sw) {
    HtmlTable table =
        new HtmlTable("subword")
            .names("model")
            .numbers(
                "params",
                "size vs teacher",
                "bytes on disk",
                "val loss (nats/token)",
                "val loss per character (val_loss_per_char)",
                "top-1 agreement",
                "KL(teacher||model)");
    List<EvalResult> all = new ArrayList<>();
    all.add(sw.teacher());
    all.addAll(sw.students());
    for (EvalResult r : all) {
      table.row(
          identity(r, sw.teacher()),
          count(r.bytesOnDisk()),
          num(r.valLoss()),
          num(r.valLoss() / sw.charsPerToken()),
          num(r.top1Agreement()),
          num(r.klTeacherStudent()));
    }
    return "<h2>Subword workload (BPE): student vs teacher on held-out text</h2>\n"
        + headlines("subword-headlines", sw.teacher(), sw.students())
        + table.render()
        + String.format(
            Locale.ROOT,
            "<p>Per character = per token / %.3f characters per scored token.</p>\n",
            sw.charsPerToken());
  }

  /** A table cell: whole numbers with thousands separators, reals to four places. */
  private static String cell(Object v) {
    if (v instanceof Number n) {
      double d = n.doubleValue();
      if (d == Math.rint(d) && Math.abs(d) < 1e15) {
        return count(n.longValue());
      }
      return num(d);
    }
    return String.valueOf(v);
  }

  /** Numbers read back from JSON are doubles; show whole ones as integers. */
  static String value(Object v) {
    if (v instanceof Double d && d == Math.rint(d) && Math.abs(d) < 1e15) {
      return Long.toString(d.longValue());
    }
    return String.valueOf(v);
  }

  /** A model table's first cells: name, parameters, and parameters over the teacher's. */
  private static List<String> identity(EvalResult r, EvalResult teacher) {
    return List.of(
        r.name(),
        count(r.params()),
        String.format(Locale.ROOT, "%.3f", (double) r.params() / teacher.params()));
  }

  /** A count with thousands separators. */
  private static String count(long v) {
    return String.format(Locale.ROOT, "%,d", v);
  }

  private static String num(double v) {
    return String.format(Locale.ROOT, "%.4f", v);
  }
}
