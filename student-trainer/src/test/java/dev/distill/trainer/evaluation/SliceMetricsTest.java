package dev.distill.trainer.evaluation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

class SliceMetricsTest {

  private static SliceMetrics.Example example(
      String task, double[] nll, boolean[] agrees, double confidence, boolean[] correct) {
    double[] kl = new double[nll.length];
    double[] conf = new double[nll.length];
    for (int i = 0; i < nll.length; i++) {
      kl[i] = nll[i] / 10; // distinct from the loss, so a swapped column would show
      conf[i] = confidence;
    }
    return new SliceMetrics.Example(task, nll, kl, agrees, conf, correct);
  }

  @Test
  void examplesGoToTheirTaskAndLengthBucketAndMeansAreWeightedByTokens() {
    SliceMetrics.Accumulator acc = new SliceMetrics.Accumulator("kd-student", new int[] {3});
    // 2 positions -> [0,3); 4 positions -> [3,inf)
    acc.add(
        example(
            "shakespeare",
            new double[] {1, 1},
            new boolean[] {true, false},
            0.95,
            new boolean[] {true, false}));
    acc.add(
        example(
            "shakespeare",
            new double[] {4, 4, 4, 4},
            new boolean[] {true, true, true, false},
            0.55,
            new boolean[] {true, true, false, false}));
    acc.add(
        example(
            "arithmetic",
            new double[] {2, 3, 4},
            new boolean[] {true, true, true},
            1.0,
            new boolean[] {true, true, true}));

    List<SliceMetrics.Row> rows = acc.rows();
    assertThat(rows)
        .extracting(SliceMetrics.Row::task, SliceMetrics.Row::lengthBucket)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("shakespeare", "all"),
            org.assertj.core.groups.Tuple.tuple("shakespeare", "[0,3)"),
            org.assertj.core.groups.Tuple.tuple("shakespeare", "[3,inf)"),
            org.assertj.core.groups.Tuple.tuple("arithmetic", "all"),
            org.assertj.core.groups.Tuple.tuple("arithmetic", "[3,inf)"));
    assertThat(rows).allSatisfy(r -> assertThat(r.model()).isEqualTo("kd-student"));

    SliceMetrics.Row all = rows.get(0);
    assertThat(all.examples()).isEqualTo(2);
    assertThat(all.tokens()).isEqualTo(6);
    // (1 + 1 + 4 * 4) / 6 = 3.0 by tokens; the mean of the example means would be 2.5
    assertThat(all.loss()).isCloseTo(3.0, within(1e-12));
    assertThat(all.forwardKl()).isCloseTo(0.3, within(1e-12));
    assertThat(all.top1Agreement()).isCloseTo(4.0 / 6, within(1e-12));
    // bins: 2 positions at 0.95 with accuracy 0.5, 4 at 0.55 with accuracy 0.5
    assertThat(all.ece()).isCloseTo(2.0 / 6 * 0.45 + 4.0 / 6 * 0.05, within(1e-12));

    SliceMetrics.Row shortOnes = rows.get(1);
    assertThat(shortOnes.examples()).isEqualTo(1);
    assertThat(shortOnes.tokens()).isEqualTo(2);
    assertThat(shortOnes.loss()).isCloseTo(1.0, within(1e-12));
    assertThat(shortOnes.top1Agreement()).isCloseTo(0.5, within(1e-12));
    assertThat(shortOnes.ece()).isCloseTo(0.45, within(1e-12));

    SliceMetrics.Row longOnes = rows.get(2);
    assertThat(longOnes.loss()).isCloseTo(4.0, within(1e-12));
    assertThat(longOnes.top1Agreement()).isCloseTo(0.75, within(1e-12));
    assertThat(longOnes.ece()).isCloseTo(0.05, within(1e-12));

    SliceMetrics.Row arithmetic = rows.get(3);
    assertThat(arithmetic.tokens()).isEqualTo(3);
    assertThat(arithmetic.loss()).isCloseTo(3.0, within(1e-12));
    assertThat(arithmetic.top1Agreement()).isEqualTo(1.0);
    assertThat(arithmetic.ece()).isCloseTo(0.0, within(1e-12));
    assertThat(rows.get(4))
        .usingRecursiveComparison()
        .ignoringFields("lengthBucket")
        .isEqualTo(arithmetic);
  }

  @Test
  void emptyBucketsHaveNoRow() {
    SliceMetrics.Accumulator acc = new SliceMetrics.Accumulator("m", SliceMetrics.LENGTH_BUCKETS);
    double[] nll = new double[300];
    acc.add(example("t", nll, new boolean[300], 0.5, new boolean[300]));
    assertThat(acc.rows())
        .extracting(SliceMetrics.Row::lengthBucket)
        .containsExactly("all", "[256,1024)");
  }

  @Test
  void badInputFailsNamingTheTaskOrTheEdges() {
    assertThatThrownBy(
            () ->
                new SliceMetrics.Example(
                    "arithmetic",
                    new double[2],
                    new double[2],
                    new boolean[1],
                    new double[2],
                    new boolean[2]))
        .hasMessageContaining("arithmetic")
        .hasMessageContaining("differ in length");
    assertThatThrownBy(
            () ->
                new SliceMetrics.Example(
                    "shakespeare",
                    new double[0],
                    new double[0],
                    new boolean[0],
                    new double[0],
                    new boolean[0]))
        .hasMessageContaining("shakespeare")
        .hasMessageContaining("no positions");
    assertThatThrownBy(() -> new SliceMetrics.Accumulator("m", new int[] {64, 64}))
        .hasMessageContaining("[64, 64]");
  }
}
