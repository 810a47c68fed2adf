package dev.distill.trainer.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class SvgChartTest {

  /** The text of every x-axis tick label, in order. */
  static List<String> xTicks(String svg) {
    List<String> out = new ArrayList<>();
    Matcher m = Pattern.compile("<text class=\"xtick\"[^>]*>([^<]*)</text>").matcher(svg);
    while (m.find()) {
      out.add(m.group(1));
    }
    return out;
  }

  @Test
  void aChartWithOneXValueDrawsMarkersAndOneTickWithoutNaNOrNegativeValues() {
    String svg =
        SvgChart.render(
            "c",
            "one step",
            "step",
            "loss",
            List.of(
                new SvgChart.Series("kd train", new double[] {0}, new double[] {2.0}, true, true),
                new SvgChart.Series("kd val", new double[] {0}, new double[] {2.1}, true, false)),
            false,
            null,
            List.of());
    assertThat(svg).doesNotContain("NaN", "Infinity", "<polyline");
    assertThat(svg.split("<circle", -1)).hasSize(3);
    assertThat(xTicks(svg)).containsExactly("0");
    // the marker sits in the middle of the plot, not on an invented edge
    assertThat(svg).contains("cx=\"237.0\"");
  }

  @Test
  void aLogChartWithOnePointHasOneTickAtThatValue() {
    String svg =
        SvgChart.render(
            "c",
            "one model",
            "bytes",
            "loss",
            List.of(
                new SvgChart.Series("t", new double[] {65_536}, new double[] {1.5}, false, false)),
            true,
            null,
            List.of());
    assertThat(svg).doesNotContain("NaN", "Infinity");
    assertThat(xTicks(svg)).containsExactly("65.54k");
  }

  @Test
  void categoricalAxisLabelsEveryLayerByNameAtIntegerPositionsOnly() {
    List<String> layers = List.of("h0.attn", "h0.proj", "h0.fc", "h0.fc2");
    String svg =
        SvgChart.render(
            "c",
            "sparsity",
            "layer",
            "sparsity",
            List.of(
                new SvgChart.Series(
                    "s", new double[] {0, 1, 2, 3}, new double[] {.1, .2, .3, .4}, false, false)),
            false,
            new double[] {0, 1, 0, 1},
            layers);
    assertThat(xTicks(svg)).containsExactlyElementsOf(layers);
    assertThat(svg).doesNotContain(">-0.5<", ">0.5<", "NaN").contains("s: h0.fc, 0.300");
  }

  @Test
  void logTicksAreOneTwoFiveTimesPowersOfTenInsideTheRange() {
    double[] t = SvgChart.logTicks(Math.log10(60_000), Math.log10(3_000_000));
    List<String> labels = new ArrayList<>();
    for (double v : t) {
      labels.add(SvgChart.si(Math.pow(10, v)));
    }
    assertThat(labels).containsExactly("100k", "200k", "500k", "1M", "2M");
  }

  @Test
  void linearTicksAreRoundMultiplesInsideTheRange() {
    assertThat(SvgChart.linearTicks(1, 100)).containsExactly(20, 40, 60, 80, 100);
    assertThat(SvgChart.linearTicks(0, 1)).containsExactly(0, 0.2, 0.4, 0.6, 0.8, 1);
    assertThat(SvgChart.linearTicks(10, 20)).containsExactly(10, 12, 14, 16, 18, 20);
  }
}
