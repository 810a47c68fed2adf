package dev.distill.trainer.report;

import java.util.List;
import java.util.Locale;

/**
 * Small self-contained SVG charts (lines and scatter), so the HTML report needs no script library
 * and no network at view time. Every text goes through {@link Html#escape}.
 */
final class SvgChart {
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

  /**
   * Renders one chart.
   *
   * <p>With fewer than two distinct finite x values every series is drawn as markers (a line
   * through one x is invisible) and the x axis carries a single tick at that value, centred, so no
   * range is invented. With {@code categories} the x values are indices into it: the axis is
   * labelled with the names at the integer positions only (issue 17: per-layer charts showed {@code
   * -0.5}). With {@code logX} the ticks are 1, 2 and 5 times powers of ten inside the data's range.
   *
   * @param fixedRange {@code {minX, maxX, minY, maxY}}, or null to fit the data; with categories
   *     only its y part is used
   * @param categories names of the x positions 0..n-1, or empty for a numeric x axis
   */
  public static String render(
      String id,
      String title,
      String xLabel,
      String yLabel,
      List<Series> series,
      boolean logX,
      double[] fixedRange,
      List<String> categories) {
    boolean categorical = !categories.isEmpty();
    double minX = Double.POSITIVE_INFINITY;
    double maxX = Double.NEGATIVE_INFINITY;
    double minY = Double.POSITIVE_INFINITY;
    double maxY = Double.NEGATIVE_INFINITY;
    java.util.Set<Double> distinctX = new java.util.HashSet<>();
    for (Series s : series) {
      for (int i = 0; i < s.x().length; i++) {
        if (!plottable(s.x()[i], s.y()[i], logX)) {
          continue;
        }
        double x = logX ? Math.log10(s.x()[i]) : s.x()[i];
        distinctX.add(x);
        minX = Math.min(minX, x);
        maxX = Math.max(maxX, x);
        minY = Math.min(minY, s.y()[i]);
        maxY = Math.max(maxY, s.y()[i]);
      }
    }
    if (fixedRange != null) {
      if (!categorical) {
        minX = fixedRange[0];
        maxX = fixedRange[1];
      }
      minY = fixedRange[2];
      maxY = fixedRange[3];
    }
    if (!Double.isFinite(minY)) {
      minY = 0;
      maxY = 1;
    }
    boolean single = !categorical && fixedRange == null && distinctX.size() < 2;
    double[] xTicks;
    String[] xTickLabels;
    if (categorical) {
      minX = -0.5;
      maxX = categories.size() - 0.5;
      xTicks = new double[categories.size()];
      xTickLabels = new String[categories.size()];
      for (int i = 0; i < categories.size(); i++) {
        xTicks[i] = i;
        xTickLabels[i] = categories.get(i);
      }
    } else if (single) {
      // One x value (or none): one tick at it, centred; the range around it is never labelled.
      double v = distinctX.isEmpty() ? 0 : distinctX.iterator().next();
      minX = v - 1;
      maxX = v + 1;
      xTicks = distinctX.isEmpty() ? new double[0] : new double[] {v};
      xTickLabels =
          distinctX.isEmpty() ? new String[0] : new String[] {logX ? si(Math.pow(10, v)) : fmt(v)};
    } else {
      if (maxX == minX) {
        maxX = minX + 1;
      }
      if (logX && fixedRange == null) {
        double pad = (maxX - minX) * 0.05;
        minX -= pad;
        maxX += pad;
      }
      xTicks = logX ? logTicks(minX, maxX) : linearTicks(minX, maxX);
      xTickLabels = new String[xTicks.length];
      for (int i = 0; i < xTicks.length; i++) {
        xTickLabels[i] = logX ? si(Math.pow(10, xTicks[i])) : fmt(xTicks[i]);
      }
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
    int mb = categorical ? MB + 28 : MB;
    int pw = W - ML - MR;
    int ph = H - MT - mb;
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
    }
    for (int i = 0; i < xTicks.length; i++) {
      double px = ML + (xTicks[i] - x0) / (x1 - x0) * pw;
      sb.append(
          String.format(
              Locale.ROOT,
              "<line class=\"xtick\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#999\"/>",
              px,
              px,
              MT + ph,
              MT + ph + 4));
      if (categorical) {
        int ty = MT + ph + 12;
        sb.append(
            String.format(
                Locale.ROOT,
                "<text class=\"xtick\" x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"end\""
                    + " transform=\"rotate(-40 %.1f %d)\">%s</text>",
                px,
                ty,
                px,
                ty,
                Html.escape(xTickLabels[i])));
      } else {
        sb.append(
            String.format(
                Locale.ROOT,
                "<text class=\"xtick\" x=\"%.1f\" y=\"%d\" font-size=\"11\""
                    + " text-anchor=\"middle\">%s</text>",
                px,
                MT + ph + 16,
                Html.escape(xTickLabels[i])));
      }
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
        if (!plottable(s.x()[i], s.y()[i], logX)) {
          continue;
        }
        double xv = logX ? Math.log10(s.x()[i]) : s.x()[i];
        double px = ML + (xv - x0) / (x1 - x0) * pw;
        double py = MT + ph - (s.y()[i] - y0) / (y1 - y0) * ph;
        if (s.line() && !single) {
          pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", px, py));
        } else {
          sb.append(
              String.format(
                  Locale.ROOT,
                  "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"><title>%s</title></circle>",
                  px,
                  py,
                  color,
                  Html.escape(
                      s.name()
                          + ": "
                          + (categorical
                                  && s.x()[i] == Math.rint(s.x()[i])
                                  && s.x()[i] >= 0
                                  && s.x()[i] < categories.size()
                              ? categories.get((int) s.x()[i])
                              : fmt(s.x()[i]))
                          + ", "
                          + fmt(s.y()[i]))));
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

  /** A point is drawn when both coordinates are finite (and x is positive on a log axis). */
  private static boolean plottable(double x, double y, boolean logX) {
    return Double.isFinite(x) && Double.isFinite(y) && (!logX || x > 0);
  }

  /**
   * Ticks at multiples of a round step (1, 2 or 5 times a power of ten, about a quarter of the
   * range) inside {@code [lo, hi]}, so a step axis reads 0, 25, 50 rather than 1, 25.75, 50.5.
   */
  static double[] linearTicks(double lo, double hi) {
    double raw = (hi - lo) / 4;
    double mag = Math.pow(10, Math.floor(Math.log10(raw)));
    double step = mag * (raw / mag >= 5 ? 5 : raw / mag >= 2 ? 2 : 1);
    List<Double> t = new java.util.ArrayList<>();
    // k / (1 / step) rather than k * step: 3 * 0.2 prints 0.6000000000000001
    double inv = step < 1 ? Math.round(1 / step) : 0;
    for (long k = (long) Math.ceil(lo / step - 1e-9);
        k <= (long) Math.floor(hi / step + 1e-9);
        k++) {
      t.add(inv > 0 ? k / inv : k * step);
    }
    return t.stream().mapToDouble(Double::doubleValue).toArray();
  }

  /**
   * Log-axis ticks (as log10 values) at 1, 2 and 5 times the powers of ten inside {@code [lo, hi]}
   * (log10 bounds), thinned to 1 and 10 when there are more than eight; the two ends when none fall
   * inside.
   */
  static double[] logTicks(double lo, double hi) {
    List<Double> all = new java.util.ArrayList<>();
    List<Double> decades = new java.util.ArrayList<>();
    for (int e = (int) Math.floor(lo); e <= (int) Math.ceil(hi); e++) {
      for (int m : new int[] {1, 2, 5}) {
        double v = e + Math.log10(m);
        if (v >= lo - 1e-9 && v <= hi + 1e-9) {
          all.add(v);
          if (m == 1) {
            decades.add(v);
          }
        }
      }
    }
    List<Double> chosen = all.size() > 8 && decades.size() >= 2 ? decades : all;
    if (chosen.size() < 2) {
      chosen = List.of(lo, hi);
    }
    return chosen.stream().mapToDouble(Double::doubleValue).toArray();
  }

  /** A log-axis tick: 200k, 1.5M (ticks are 1, 2 or 5 times a power of ten, or a data end). */
  static String si(double v) {
    double a = Math.abs(v);
    if (a >= 1e9) {
      return trim(v / 1e9) + "G";
    }
    if (a >= 1e6) {
      return trim(v / 1e6) + "M";
    }
    if (a >= 1e3) {
      return trim(v / 1e3) + "k";
    }
    return fmt(v);
  }

  private static String trim(double v) {
    String s = String.format(Locale.ROOT, "%.2f", v);
    return s.contains(".") ? s.replaceAll("0+$", "").replaceAll("\\.$", "") : s;
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
