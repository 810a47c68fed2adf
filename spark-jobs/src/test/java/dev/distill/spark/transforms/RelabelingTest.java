package dev.distill.spark.transforms;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.distill.schemas.codec.SoftLabels;
import org.junit.jupiter.api.Test;

/** The pure soft-label derivations of RelabelJob. */
class RelabelingTest {
  /** One position: ids 3, 7, 9 with 0.5, 0.3, 0.1 and tail 0.1. */
  private static SoftLabels one() {
    return new SoftLabels(
        1, 3, new int[] {3, 7, 9}, new float[] {0.5f, 0.3f, 0.1f}, new float[] {0.1f});
  }

  @Test
  void retemperingToTheSameTemperatureChangesNothingAndHasZeroKl() {
    SoftLabels s = one();
    SoftLabels d = Relabeling.retemper(s, 2.0, 2.0);
    assertThat(d.prob(0, 0)).isCloseTo(0.5f, within(1e-6f));
    assertThat(d.tail(0)).isCloseTo(0.1f, within(1e-6f));
    assertThat(Relabeling.klSum(s, d, 100)).isCloseTo(0.0, within(1e-7));
  }

  @Test
  void retemperingRaisesProbabilitiesToTOldOverTNewAndRenormalises() {
    SoftLabels d = Relabeling.retemper(one(), 2.0, 1.0); // a = 2: colder
    double z = 0.25 + 0.09 + 0.01 + 0.01;
    assertThat(d.prob(0, 0)).isCloseTo((float) (0.25 / z), within(1e-6f));
    assertThat(d.tail(0)).isCloseTo((float) (0.01 / z), within(1e-6f));
    assertThat(d.prob(0, 0) + d.prob(0, 1) + d.prob(0, 2) + d.tail(0)).isCloseTo(1f, within(1e-6f));
    // Ratios among the top-k follow exactly (p_i / p_j)^a.
    assertThat(d.prob(0, 0) / d.prob(0, 1))
        .isCloseTo((float) Math.pow(0.5 / 0.3, 2), within(1e-4f));
    assertThat(Relabeling.klSum(one(), d, 100)).isGreaterThan(0.01);
  }

  @Test
  void smallerKMovesTheDroppedMassIntoTheTail() {
    SoftLabels d = Relabeling.truncate(one(), 2);
    assertThat(d.k()).isEqualTo(2);
    assertThat(d.id(0, 0)).isEqualTo(3);
    assertThat(d.id(0, 1)).isEqualTo(7);
    assertThat(d.tail(0)).isCloseTo(0.2f, within(1e-6f));
    // Source tail 0.1 over 97 ids; derived tail 0.2 over 98 ids: id 9 gets 0.2/98.
    double expected = 0.1 * Math.log(0.1 / (0.2 / 98)) + 0.1 * Math.log(0.1 / (0.2 * 97 / 98));
    assertThat(Relabeling.klSum(one(), d, 100)).isCloseTo(expected, within(1e-6));
  }

  @Test
  void variantsParseAndNameTheirFolders() {
    assertThat(Relabeling.Variant.parse("t=1.0,k=4").name()).isEqualTo("t1.0-k4");
    assertThat(Relabeling.Variant.parse("k=2").name()).isEqualTo("k2");
    assertThatThrownBy(() -> Relabeling.Variant.parse("t=0")).hasMessageContaining("> 0");
    assertThatThrownBy(() -> Relabeling.Variant.parse("x=1")).hasMessageContaining("t=T,k=K");
  }

  @Test
  void entropyEstimateSpreadsTheTailUniformlyOverTheIdsOutsideTopK() {
    // ids 3, 7, 9 with 0.5, 0.3, 0.1; tail 0.1 over 97 ids of a 100-id vocabulary.
    double expected =
        -(0.5 * Math.log(0.5) + 0.3 * Math.log(0.3) + 0.1 * Math.log(0.1))
            - 0.1 * Math.log(0.1 / 97);
    assertThat(Relabeling.entropyEstimate(one(), 0, 100)).isCloseTo(expected, within(1e-6));
    // Colder labels are more certain.
    assertThat(Relabeling.entropyEstimate(Relabeling.retemper(one(), 2.0, 1.0), 0, 100))
        .isLessThan(expected);
  }

  @Test
  void samplingSpecsParseAndNameTheirFolders() {
    Relabeling.Sampling s = Relabeling.Sampling.parse("sampled:12", 7);
    assertThat(s.samples()).isEqualTo(12);
    assertThat(s.name()).isEqualTo("sampled12-seed7");
    assertThatThrownBy(() -> Relabeling.Sampling.parse("sampled:0", 0))
        .hasMessageContaining(">= 1");
    assertThatThrownBy(() -> Relabeling.Sampling.parse("topk:4", 0))
        .hasMessageContaining("sampled:N");
    assertThatThrownBy(() -> Relabeling.Sampling.parse("sampled:x", 0))
        .hasMessageContaining("number");
  }

  @Test
  void sampledKlIsTheKlOfTheDrawsFromTheRecordWithItsTailUniform() {
    // Draws: id 3 twice, id 50 (a tail id, 0.1 / 97) twice, of N = 4.
    dev.distill.schemas.codec.SampledSoftLabelCodec.Sampled drawn =
        new dev.distill.schemas.codec.SampledSoftLabelCodec.Sampled(
            1, 4, new int[] {0, 2}, new int[] {3, 50}, new int[] {2, 2});
    double expected = 0.5 * Math.log(0.5 / 0.5) + 0.5 * Math.log(0.5 / (0.1 / 97));
    assertThat(Relabeling.sampledKlSum(one(), drawn, 100)).isCloseTo(expected, within(1e-6));
    // all draws on the most probable id: KL = ln(1 / 0.5)
    dev.distill.schemas.codec.SampledSoftLabelCodec.Sampled top =
        new dev.distill.schemas.codec.SampledSoftLabelCodec.Sampled(
            1, 4, new int[] {0, 1}, new int[] {3}, new int[] {4});
    assertThat(Relabeling.sampledKlSum(one(), top, 100)).isCloseTo(Math.log(2), within(1e-6));
  }
}
