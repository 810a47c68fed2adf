package dev.distill.schemas.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.distill.schemas.codec.SampledSoftLabelCodec.Sampled;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SampledSoftLabelCodecTest {
  @Test
  void encodesTheHandWrittenLayoutAndDecodesItBack() {
    // One position, N = 4: id 3 twice, id 130 twice.
    SampledSoftLabelCodec.Sampled s =
        new SampledSoftLabelCodec.Sampled(
            1, 4, new int[] {0, 2}, new int[] {3, 130}, new int[] {2, 2});

    byte[] b = SampledSoftLabelCodec.encode(s);

    // magic, version 2, P=1, N=4, m=2, id 3, delta 126, counts 2 2
    assertThat(b).containsExactly(0xD1 - 256, 2, 1, 4, 2, 3, 126, 2, 2);
    SampledSoftLabelCodec.Sampled back = SampledSoftLabelCodec.decode(b);
    assertThat(back.ids()).containsExactly(3, 130);
    assertThat(back.counts()).containsExactly(2, 2);
    assertThat(SampledSoftLabelCodec.versionOf(b)).isEqualTo(2);
    SoftLabels l = back.toSoftLabels();
    assertThat(l.k()).isEqualTo(2);
    assertThat(l.prob(0, 0)).isEqualTo(0.5f);
    assertThat(l.tail(0)).isZero();
  }

  @Test
  void decodedLabelsArePaddedWithDistinctUnusedIdsAtProbabilityZero() {
    SampledSoftLabelCodec.Sampled s =
        new SampledSoftLabelCodec.Sampled(
            2, 3, new int[] {0, 3, 4}, new int[] {0, 1, 5, 0}, new int[] {1, 1, 1, 3});

    SoftLabels l = s.toSoftLabels();

    assertThat(l.k()).isEqualTo(3);
    assertThat(l.ids()).containsExactly(0, 1, 5, 0, 1, 2);
    assertThat(l.probs()).containsExactly(1 / 3f, 1 / 3f, 1 / 3f, 1f, 0f, 0f);
  }

  @Test
  void samplingIsUnbiased() {
    float[] p = {0.5f, 0.25f, 0.125f, 0.0625f, 0.0625f, 0f};
    float[][] rows = new float[4000][];
    java.util.Arrays.fill(rows, p);
    SoftLabels l = SampledSoftLabelCodec.sample(rows, 12, new Random(1)).toSoftLabels();
    double[] mean = new double[p.length];
    for (int pos = 0; pos < l.positions(); pos++) {
      for (int j = 0; j < l.k(); j++) {
        mean[l.id(pos, j)] += l.prob(pos, j) / l.positions();
      }
    }
    for (int i = 0; i < p.length; i++) {
      // standard error of the mean of count/12 over 4000 positions: sqrt(p(1-p)/48000) <= 0.0023
      assertThat(mean[i]).as("id %d", i).isCloseTo(p[i], within(0.01));
    }
    assertThat(mean[5]).isZero();
  }

  @Test
  void refusesBadCountsAndForeignVersions() {
    assertThatThrownBy(
            () ->
                new SampledSoftLabelCodec.Sampled(
                    1, 4, new int[] {0, 1}, new int[] {3}, new int[] {3}))
        .hasMessageContaining("counts sum to 3, expected 4");
    byte[] v1 =
        SoftLabelCodec.encode(
            new SoftLabels(1, 1, new int[] {2}, new float[] {0.9f}, new float[] {0.1f}));
    assertThatThrownBy(() -> SampledSoftLabelCodec.decode(v1))
        .isInstanceOf(CodecException.class)
        .hasMessageContaining("codec version 1");
    byte[] truncated = {(byte) 0xD1, 2, 1, 4, 2, 3};
    assertThatThrownBy(() -> SampledSoftLabelCodec.decode(truncated))
        .isInstanceOf(CodecException.class)
        .hasMessageContaining("truncated");
  }

  @Test
  void paddingToAFixedKKeepsCountsOverNAndMarksTheLabelsSampled() {
    // position 0: id 5 x3, id 9 x1 (N = 4); position 1: id 0 x4
    Sampled s = new Sampled(2, 4, new int[] {0, 2, 3}, new int[] {5, 9, 0}, new int[] {3, 1, 4});
    SoftLabels l = s.toSoftLabels(4);
    assertThat(l.sampled()).isTrue();
    assertThat(l.k()).isEqualTo(4);
    // hand-computed: 3/4, 1/4, then padding ids 0 and 1 (lowest unused) at 0
    assertThat(l.ids()).containsExactly(5, 9, 0, 1, 0, 1, 2, 3);
    assertThat(l.probs()).containsExactly(0.75f, 0.25f, 0f, 0f, 1f, 0f, 0f, 0f);
    assertThat(l.tails()).containsExactly(0f, 0f);
  }

  @Test
  void fromSoftLabelsRecoversTheCountsOfPaddedSampledLabels() {
    Sampled s = new Sampled(2, 4, new int[] {0, 2, 3}, new int[] {5, 9, 0}, new int[] {3, 1, 4});
    Sampled back = SampledSoftLabelCodec.fromSoftLabels(s.toSoftLabels(4), 4);
    assertThat(back.offsets()).containsExactly(0, 2, 3);
    assertThat(back.ids()).containsExactly(5, 9, 0);
    assertThat(back.counts()).containsExactly(3, 1, 4);
  }

  @Test
  void fromSoftLabelsRefusesTopKLabels() {
    SoftLabels topk = new SoftLabels(1, 1, new int[] {2}, new float[] {0.9f}, new float[] {0.1f});
    assertThatThrownBy(() -> SampledSoftLabelCodec.fromSoftLabels(topk, 4))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not sampled");
  }

  @Test
  void paddingBelowTheDistinctIdsIsRefused() {
    Sampled s = new Sampled(1, 4, new int[] {0, 2}, new int[] {5, 9}, new int[] {3, 1});
    assertThatThrownBy(() -> s.toSoftLabels(1)).hasMessageContaining("2 distinct ids > k=1");
  }
}
