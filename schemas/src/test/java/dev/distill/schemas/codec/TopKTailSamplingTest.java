package dev.distill.schemas.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class TopKTailSamplingTest {
  // V = 10; one position: ids 2, 5, 7 with 0.5, 0.3, 0.1 and tail 0.1 over the 7 other ids
  private static final SoftLabels RECORD =
      new SoftLabels(1, 3, new int[] {5, 2, 7}, new float[] {0.3f, 0.5f, 0.1f}, new float[] {0.1f});

  @Test
  void aCertainPositionGivesAllDrawsToItsOneId() {
    SoftLabels certain =
        new SoftLabels(1, 2, new int[] {4, 9}, new float[] {1f, 0f}, new float[] {0f});
    SampledSoftLabelCodec.Sampled s = TopKTailSampling.sample(certain, 50, 12, 7, 1);
    assertThat(s.ids()).containsExactly(4);
    assertThat(s.counts()).containsExactly(12);
  }

  @Test
  void allMassInTheTailDrawsOnlyIdsOutsideTheTopK() {
    // V = 3, top-1 id 1 at probability 0, tail 1: draws land on ids 0 and 2 only.
    SoftLabels tailOnly = new SoftLabels(1, 1, new int[] {1}, new float[] {0f}, new float[] {1f});
    SampledSoftLabelCodec.Sampled s = TopKTailSampling.sample(tailOnly, 3, 200, 3, 9);
    assertThat(s.ids()).containsExactly(0, 2);
    assertThat(s.counts()[0] + s.counts()[1]).isEqualTo(200);
    // each is a Binomial(200, 1/2): 100 +- 5 standard deviations (7.1)
    assertThat(s.counts()[0]).isBetween(65, 135);
  }

  @Test
  void theExpectedDistributionSpreadsTheTailUniformlyOverTheOtherIds() {
    double[] r = TopKTailSampling.expected(RECORD, 0, 10);
    assertThat(r[2]).isCloseTo(0.5, within(1e-6));
    assertThat(r[5]).isCloseTo(0.3, within(1e-6));
    assertThat(r[7]).isCloseTo(0.1, within(1e-6));
    assertThat(r[0]).isCloseTo(0.1 / 7, within(1e-7));
    assertThat(r[9]).isCloseTo(0.1 / 7, within(1e-7));
    // a vocabulary of exactly k ids has no room for a tail: renormalised over the top-k
    SoftLabels full =
        new SoftLabels(1, 2, new int[] {0, 1}, new float[] {0.6f, 0.2f}, new float[] {0.2f});
    assertThat(TopKTailSampling.expected(full, 0, 2))
        .containsExactly(new double[] {0.75, 0.25}, within(1e-6));
    assertThat(TopKTailSampling.sample(full, 2, 8, 1, 1).ids())
        .containsAnyOf(0, 1)
        .doesNotContain(2);
  }

  /**
   * Unbiasedness: the mean of {@code c_i / N} over S seeds is within 5 standard errors ({@code
   * sqrt(r(i) (1 - r(i)) / (N S))}) of {@code r(i)} for every id, tail ids included.
   */
  @Test
  void theMeanOfTheSampledLabelsOverManySeedsIsTheRecordsDistribution() {
    int vocab = 10;
    int n = 4;
    int seeds = 20_000;
    double[] sum = new double[vocab];
    for (int seed = 0; seed < seeds; seed++) {
      SampledSoftLabelCodec.Sampled s = TopKTailSampling.sample(RECORD, vocab, n, seed, 42);
      for (int j = 0; j < s.ids().length; j++) {
        sum[s.ids()[j]] += (double) s.counts()[j] / n;
      }
    }
    double[] r = TopKTailSampling.expected(RECORD, 0, vocab);
    for (int i = 0; i < vocab; i++) {
      double se = Math.sqrt(r[i] * (1 - r[i]) / ((double) n * seeds));
      assertThat(sum[i] / seeds).as("id %d", i).isCloseTo(r[i], within(5 * se));
    }
  }

  @Test
  void drawsDependOnlyOnRecordPositionAndSeed() {
    SoftLabels two =
        new SoftLabels(
            2,
            3,
            new int[] {2, 5, 7, 2, 5, 7},
            new float[] {0.5f, 0.3f, 0.1f, 0.5f, 0.3f, 0.1f},
            new float[] {0.1f, 0.1f});
    long key = TopKTailSampling.recordKey("ex-1");
    SampledSoftLabelCodec.Sampled a = TopKTailSampling.sample(two, 100, 16, 5, key);
    SampledSoftLabelCodec.Sampled again = TopKTailSampling.sample(two, 100, 16, 5, key);
    assertThat(SampledSoftLabelCodec.encode(again)).isEqualTo(SampledSoftLabelCodec.encode(a));
    // position 0 alone draws what it drew inside the two-position record
    SampledSoftLabelCodec.Sampled first =
        TopKTailSampling.sample(two.firstPositions(1), 100, 16, 5, key);
    int end = a.offsets()[1];
    assertThat(first.ids()).containsExactly(java.util.Arrays.copyOf(a.ids(), end));
    assertThat(first.counts()).containsExactly(java.util.Arrays.copyOf(a.counts(), end));
    // another seed, or another record, draws differently (16 draws over 100 ids)
    assertThat(SampledSoftLabelCodec.encode(TopKTailSampling.sample(two, 100, 16, 6, key)))
        .isNotEqualTo(SampledSoftLabelCodec.encode(a));
    assertThat(
            SampledSoftLabelCodec.encode(
                TopKTailSampling.sample(two, 100, 16, 5, TopKTailSampling.recordKey("ex-2"))))
        .isNotEqualTo(SampledSoftLabelCodec.encode(a));
  }

  @Test
  void sampledLabelsOrTooSmallAVocabularyAreRefused() {
    SoftLabels sampled =
        new SoftLabels(1, 1, new int[] {0}, new float[] {1f}, new float[] {0f}, true);
    assertThatThrownBy(() -> TopKTailSampling.sample(sampled, 10, 4, 0, 0))
        .hasMessageContaining("already sampled");
    assertThatThrownBy(() -> TopKTailSampling.sample(RECORD, 2, 4, 0, 0))
        .hasMessageContaining("vocab >= k=3");
    assertThatThrownBy(() -> TopKTailSampling.sample(RECORD, 10, 0, 0, 0))
        .hasMessageContaining("samples >= 1");
  }
}
