package dev.distill.schemas.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SoftLabelEncodingsTest {
  @Test
  void version2BytesDecodeToSampledLabelsWithKEqualToNAndEncodeBackToTheSameBytes() {
    // two positions, N = 3: (id 4 x2, id 6 x1), (id 0 x3)
    byte[] v2 =
        SampledSoftLabelCodec.encode(
            new SampledSoftLabelCodec.Sampled(
                2, 3, new int[] {0, 2, 3}, new int[] {4, 6, 0}, new int[] {2, 1, 3}));
    SoftLabels l = SoftLabelEncodings.decode(v2);
    assertThat(l.sampled()).isTrue();
    assertThat(l.k()).isEqualTo(3);
    assertThat(l.prob(0, 0)).isEqualTo(2f / 3);
    assertThat(SoftLabelEncodings.encode(l)).isEqualTo(v2);
  }

  @Test
  void version1BytesStayTopKAndVersion1() {
    SoftLabels topk =
        new SoftLabels(1, 2, new int[] {1, 5}, new float[] {0.5f, 0.25f}, new float[] {0.25f});
    byte[] v1 = SoftLabelCodec.encode(topk);
    SoftLabels back = SoftLabelEncodings.decode(v1);
    assertThat(back.sampled()).isFalse();
    assertThat(SoftLabelEncodings.encode(back)).isEqualTo(v1);
  }

  @Test
  void anUnknownVersionIsNamed() {
    assertThatThrownBy(() -> SoftLabelEncodings.decode(new byte[] {(byte) 0xD1, 9, 0, 1}))
        .isInstanceOf(CodecException.class)
        .hasMessageContaining("version 9");
  }
}
