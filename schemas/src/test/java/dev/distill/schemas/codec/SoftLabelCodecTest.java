package dev.distill.schemas.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SoftLabelCodecTest {

  /** Random top-k of a random full distribution, ids in arbitrary (probability) order. */
  static SoftLabels randomLabels(Random rng, int positions, int k, int vocab) {
    int[] ids = new int[positions * k];
    float[] probs = new float[positions * k];
    float[] tail = new float[positions];
    for (int p = 0; p < positions; p++) {
      double[] logits = new double[vocab];
      double z = 0;
      for (int v = 0; v < vocab; v++) {
        logits[v] = Math.exp(rng.nextGaussian() * 2);
        z += logits[v];
      }
      Integer[] order = new Integer[vocab];
      for (int v = 0; v < vocab; v++) {
        order[v] = v;
      }
      final double[] l = logits;
      Arrays.sort(order, (a, b) -> Double.compare(l[b], l[a]));
      double sum = 0;
      for (int j = 0; j < k; j++) {
        ids[p * k + j] = order[j];
        probs[p * k + j] = (float) (logits[order[j]] / z);
        sum += probs[p * k + j];
      }
      tail[p] = (float) Math.max(0, 1 - sum);
    }
    return new SoftLabels(positions, k, ids, probs, tail);
  }

  @Test
  void roundTripKeepsIdsExactlyAndProbabilitiesWithinRelativeErrorBound() {
    Random rng = new Random(7);
    SoftLabels in = randomLabels(rng, 50, 8, 5000);
    SoftLabels out = SoftLabelCodec.decode(SoftLabelCodec.encode(in));
    assertThat(out.positions()).isEqualTo(50);
    assertThat(out.k()).isEqualTo(8);
    for (int p = 0; p < in.positions(); p++) {
      for (int j = 0; j < in.k(); j++) {
        int id = in.id(p, j);
        int at = -1;
        for (int jj = 0; jj < out.k(); jj++) {
          if (out.id(p, jj) == id) {
            at = jj;
          }
        }
        assertThat(at).as("id %d at position %d survives", id, p).isGreaterThanOrEqualTo(0);
        float expected = in.prob(p, j);
        assertThat((double) out.prob(p, at)).isCloseTo(expected, within(expected * 2.5e-4 + 1e-7));
      }
      assertThat((double) out.tail(p)).isCloseTo(in.tail(p), within(in.tail(p) * 2.5e-4 + 1e-7));
    }
  }

  @Test
  void decodedIdsAreAscendingWithinEachPosition() {
    SoftLabels out =
        SoftLabelCodec.decode(SoftLabelCodec.encode(randomLabels(new Random(1), 10, 4, 65)));
    for (int p = 0; p < out.positions(); p++) {
      for (int j = 1; j < out.k(); j++) {
        assertThat(out.id(p, j)).isGreaterThan(out.id(p, j - 1));
      }
    }
  }

  @Test
  void decodedMassNeverExceedsOne() {
    SoftLabels out =
        SoftLabelCodec.decode(SoftLabelCodec.encode(randomLabels(new Random(3), 200, 8, 65)));
    for (int p = 0; p < out.positions(); p++) {
      double total = out.tail(p);
      for (int j = 0; j < out.k(); j++) {
        total += out.prob(p, j);
      }
      assertThat(total).isLessThanOrEqualTo(1.0 + 1e-6);
    }
  }

  @Test
  void zeroProbabilityRoundTripsAsZero() {
    SoftLabels in =
        new SoftLabels(1, 2, new int[] {3, 9}, new float[] {1.0f, 0f}, new float[] {0f});
    SoftLabels out = SoftLabelCodec.decode(SoftLabelCodec.encode(in));
    assertThat(out.prob(0, 0)).isEqualTo(1.0f);
    assertThat(out.prob(0, 1)).isZero();
    assertThat(out.tail(0)).isZero();
  }

  @Test
  void characterVocabularyCostsTwentySixBytesPerTokenAtK8() {
    SoftLabels in = randomLabels(new Random(5), 64, 8, 65);
    byte[] bytes = SoftLabelCodec.encode(in);
    assertThat(SoftLabelCodec.bytesPerToken(bytes, 64)).isBetween(26.0, 26.2);
  }

  @Test
  void duplicateIdIsRefusedAtEncode() {
    SoftLabels in =
        new SoftLabels(1, 2, new int[] {4, 4}, new float[] {0.5f, 0.2f}, new float[] {0.3f});
    assertThatThrownBy(() -> SoftLabelCodec.encode(in))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("duplicate token id 4");
  }

  @Test
  void truncatedBytesFailWithACodecError() {
    byte[] bytes = SoftLabelCodec.encode(randomLabels(new Random(2), 4, 4, 65));
    byte[] cut = Arrays.copyOf(bytes, bytes.length - 3);
    assertThatExceptionOfType(CodecException.class)
        .isThrownBy(() -> SoftLabelCodec.decode(cut))
        .withMessageContaining("truncated");
  }

  @Test
  void wrongMagicFailsWithACodecError() {
    byte[] bytes = SoftLabelCodec.encode(randomLabels(new Random(2), 1, 2, 65));
    bytes[0] = 0x00;
    assertThatThrownBy(() -> SoftLabelCodec.decode(bytes)).hasMessageContaining("magic");
  }

  @Test
  void trailingBytesAreRefused() {
    byte[] bytes = SoftLabelCodec.encode(randomLabels(new Random(2), 1, 2, 65));
    byte[] longer = Arrays.copyOf(bytes, bytes.length + 1);
    assertThatThrownBy(() -> SoftLabelCodec.decode(longer)).hasMessageContaining("trailing");
  }
}
