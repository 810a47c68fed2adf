package dev.distill.spark.transforms;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.schemas.codec.SampledSoftLabelCodec;
import dev.distill.schemas.codec.SoftLabelEncodings;
import dev.distill.schemas.codec.SoftLabels;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChunkReassemblyConcatTest {
  @Test
  void sampledChunksJoinIntoSampledLabelsThatEncodeAsCodecVersion2() {
    // N = 2: chunk 1 has one position (id 3 x2), chunk 2 two positions (id 1 x1 + id 4 x1, id 0 x2)
    SoftLabels a =
        new SampledSoftLabelCodec.Sampled(1, 2, new int[] {0, 1}, new int[] {3}, new int[] {2})
            .toSoftLabels(2);
    SoftLabels b =
        new SampledSoftLabelCodec.Sampled(
                2, 2, new int[] {0, 2, 3}, new int[] {1, 4, 0}, new int[] {1, 1, 2})
            .toSoftLabels(2);
    SoftLabels joined = ChunkReassembly.concat(List.of(a, b));
    assertThat(joined.sampled()).isTrue();
    byte[] bytes = SoftLabelEncodings.encode(joined);
    assertThat(SampledSoftLabelCodec.versionOf(bytes)).isEqualTo(2);
    SampledSoftLabelCodec.Sampled back = SampledSoftLabelCodec.decode(bytes);
    assertThat(back.offsets()).containsExactly(0, 1, 3, 4);
    assertThat(back.ids()).containsExactly(3, 1, 4, 0);
    assertThat(back.counts()).containsExactly(2, 1, 1, 2);
  }
}
