package dev.distill.trainer.report;

import java.util.List;
import java.util.Locale;

/**
 * Small self-contained SVG charts (lines and scatter), so the HTML report needs no script library
 * and no network at view time. Every text goes through {@link Html#escape}.
 */
public final class SvgChart {
  /** One named series; {@code line} draws it as a polyline, else as markers. */
  public record Series(String name, double[] x, double[] y, boolean line, boolean dashed) {
    public Series {
      if (x.length != y.length) {
        throw new IllegalArgumentException("series " + name + ": x and y lengths differ");
      }
    }
  }

  private static final String[] COLORS = {
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"
  };
  private static final int W = 560;
  private static final int H = 340;
  private static final int ML = 64;
  private static final int MR = 150;
  private static final int MT = 30;
  private static final int MB = 48;

  private SvgChart() {}

  public static String render(
      String id,
      String title,
      String xLabel,
      String yLabel,
      List<Series> series,
      boolean logX,
      double[] fixedRange) {
    double minX = Double.POSITIVE_INFINITY;
    double maxX = Double.NEGATIVE_INFINITY;
    double minY = Double.POSITIVE_INFINITY;
    double maxY = Double.NEGATIVE_INFINITY;
    for (Series s : series) {
      for (int i = 0; i < s.x().length; i++) {
        if (!Double.isFinite(s.x()[i]) || !Double.isFinite(s.y()[i])) {
          continue;
        }
        double x = logX ? Math.log10(Math.max(1e-12, s.x()[i])) : s.x()[i];
        minX = Math.min(minX, x);
        maxX = Math.max(maxX, x);
        minY = Math.min(minY, s.y()[i]);
        maxY = Math.max(maxY, s.y()[i]);
      }
    }
    if (fixedRange != null) {
      minX = fixedRange[0];
      maxX = fixedRange[1];
      minY = fixedRange[2];
      maxY = fixedRange[3];
    }
    if (!Double.isFinite(minX)) {
      minX = 0;
      maxX = 1;
      minY = 0;
      maxY = 1;
    }
    if (maxX == minX) {
      maxX = minX + 1;
    }
    if (maxY == minY) {
      maxY = minY + 1;
    }
    double padY = fixedRange == null ? (maxY - minY) * 0.05 : 0;
    minY -= padY;
    maxY += padY;
    final double x0 = minX;
    final double x1 = maxX;
    final double y0 = minY;
    final double y1 = maxY;
    int pw = W - ML - MR;
    int ph = H - MT - MB;
    StringBuilder sb = new StringBuilder();
    sb.append(
        String.format(
            Locale.ROOT,
            "<svg class=\"chart\" id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\""
                + " height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s\">",
            Html.escape(id),
            W,
            H,
            W,
            H,
            Html.escape(title)));
    sb.append(
        String.format(
            Locale.ROOT,
            "<text x=\"%d\" y=\"18\" font-size=\"14\" font-weight=\"bold\">%s</text>",
            ML,
            Html.escape(title)));
    sb.append(
        String.format(
            Locale.ROOT,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>",
            ML,
            MT,
            pw,
            ph));
    for (int i = 0; i <= 4; i++) {
      double fy = y0 + (y1 - y0) * i / 4;
      double py = MT + ph - (double) ph * i / 4;
      sb.append(
          String.format(
              Locale.ROOT,
              "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                  + "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>",
              ML,
              ML + pw,
              py,
              py,
              ML - 4,
              py + 4,
              fmt(fy)));
      double fx = x0 + (x1 - x0) * i / 4;
      double px = ML + (double) pw * i / 4;
      sb.append(
          String.format(
              Locale.ROOT,
              "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s</text>",
              px,
              MT + ph + 16,
              fmt(logX ? Math.pow(10, fx) : fx)));
    }
    sb.append(
        String.format(
            Locale.ROOT,
            "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">%s</text>",
            ML + pw / 2,
            H - 8,
            Html.escape(xLabel + (logX ? " (log scale)" : ""))));
    sb.append(
        String.format(
            Locale.ROOT,
            "<text x=\"14\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\""
                + " transform=\"rotate(-90 14 %d)\">%s</text>",
            MT + ph / 2,
            MT + ph / 2,
            Html.escape(yLabel)));
    int k = 0;
    for (Series s : series) {
      String color = COLORS[k % COLORS.length];
      StringBuilder pts = new StringBuilder();
      for (int i = 0; i < s.x().length; i++) {
        if (!Double.isFinite(s.x()[i]) || !Double.isFinite(s.y()[i])) {
          continue;
        }
        double xv = logX ? Math.log10(Math.max(1e-12, s.x()[i])) : s.x()[i];
        double px = ML + (xv - x0) / (x1 - x0) * pw;
        double py = MT + ph - (s.y()[i] - y0) / (y1 - y0) * ph;
        if (s.line()) {
          pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", px, py));
        } else {
          sb.append(
              String.format(
                  Locale.ROOT,
                  "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"><title>%s</title></circle>",
                  px,
                  py,
                  color,
                  Html.escape(s.name() + ": " + fmt(s.x()[i]) + ", " + fmt(s.y()[i]))));
        }
      }
      if (s.line() && pts.length() > 0) {
        sb.append(
            String.format(
                Locale.ROOT,
                "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"%s\"/>",
                color,
                s.dashed() ? " stroke-dasharray=\"5,4\"" : "",
                pts.toString().trim()));
      }
      int ly = MT + 12 + 16 * k;
      sb.append(
          String.format(
              Locale.ROOT,
              "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"3\" fill=\"%s\"/>"
                  + "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>",
              ML + pw + 8,
              ly - 4,
              color,
              ML + pw + 24,
              ly,
              Html.escape(s.name())));
      k++;
    }
    sb.append("</svg>");
    return sb.toString();
  }

  static String fmt(double v) {
    double a = Math.abs(v);
    if (v == Math.rint(v) && a < 1e7) {
      return String.format(Locale.ROOT, "%d", (long) v);
    }
    if (a != 0 && (a >= 1e5 || a < 1e-2)) {
      return String.format(Locale.ROOT, "%.2g", v);
    }
    return String.format(Locale.ROOT, a >= 100 ? "%.0f" : "%.3f", v);
  }
}
