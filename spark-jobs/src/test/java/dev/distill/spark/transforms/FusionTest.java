package dev.distill.spark.transforms;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.distill.schemas.codec.SoftLabels;
import java.util.List;
import org.junit.jupiter.api.Test;

class FusionTest {
  private static final int V = 10;
  // A: {1: 0.5, 2: 0.3}, tail 0.2 (0.025 on each of the 8 other ids).
  private static final SoftLabels A =
      new SoftLabels(1, 2, new int[] {1, 2}, new float[] {0.5f, 0.3f}, new float[] {0.2f});
  // B: {2: 0.6, 3: 0.2}, tail 0.2.
  private static final SoftLabels B =
      new SoftLabels(1, 2, new int[] {2, 3}, new float[] {0.6f, 0.2f}, new float[] {0.2f});
  private static final double[] HALF = {0.5, 0.5};

  @Test
  void mixesOverTheUnionWithEachTailSpreadUniformly() {
    SoftLabels f = Fusion.fuse(List.of(A, B), HALF, V, 3);

    // q1 = .5*.5 + .5*.025, q2 = .5*.3 + .5*.6, q3 = .5*.025 + .5*.2; sorted by q.
    assertThat(f.ids()).containsExactly(2, 1, 3);
    assertThat(f.prob(0, 0)).isCloseTo(0.45f, within(1e-6f));
    assertThat(f.prob(0, 1)).isCloseTo(0.2625f, within(1e-6f));
    assertThat(f.prob(0, 2)).isCloseTo(0.1125f, within(1e-6f));
    // Tails merged: sum_t w_t (tau_t - tau_t |U \ S_t| / (V - k_t)) = 2 * .5 * (.2 - .2 / 8).
    assertThat(f.tail(0)).isCloseTo(0.175f, within(1e-6f));
  }

  @Test
  void defaultKKeepsTheMostProbableUnionIdsAndMovesTheRestToTheTail() {
    SoftLabels f = Fusion.fuse(List.of(A, B), HALF, V, 2);

    assertThat(f.ids()).containsExactly(2, 1);
    assertThat(f.tail(0)).isCloseTo(1 - 0.45f - 0.2625f, within(1e-6f));
  }

  @Test
  void padsWithTheLowestOtherIdsAtTheirMixtureProbabilityWhenTheUnionIsSmall() {
    SoftLabels f = Fusion.fuse(List.of(A, B), HALF, V, 4);

    assertThat(f.ids()).containsExactly(2, 1, 3, 0);
    assertThat(f.prob(0, 3)).isCloseTo(0.025f, within(1e-6f));
    assertThat(f.tail(0)).isCloseTo(0.15f, within(1e-6f));
  }

  @Test
  void weightsAreNormalisedAndTheFusedIdListsEveryTeacherWithItsWeight() {
    List<Fusion.Teacher> ts =
        List.of(new Fusion.Teacher("a", "aa", 3), new Fusion.Teacher("b", "bb", 1));

    assertThat(Fusion.normalised(ts)).containsExactly(0.75, 0.25);
    assertThat(Fusion.fusedId(ts)).isEqualTo("fuse[a@aa*0.750000,b@bb*0.250000]");
    assertThat(Fusion.fusedSha256(ts))
        .hasSize(64)
        .isNotEqualTo(Fusion.fusedSha256(List.of(ts.get(1), ts.get(0))));
    assertThatThrownBy(() -> new Fusion.Teacher("c", "cc", 0)).hasMessageContaining("teacher c");
  }

  @Test
  void klOfTheFusedSetFromASourceIsTakenOverTheFusedIdsAndOneRestBucket() {
    SoftLabels f = Fusion.fuse(List.of(A, B), HALF, V, 2);

    // Kept {2, 1}: A has .3 and .5 there, so A's rest is .2; fused rest is .2875.
    double expected =
        0.45 * Math.log(0.45 / 0.3)
            + 0.2625 * Math.log(0.2625 / 0.5)
            + 0.2875 * Math.log(0.2875 / 0.2);
    assertThat(Fusion.kl(f, A, 0, V)).isCloseTo(expected, within(1e-6));
    // B: .6 on id 2, .025 (its uniform tail) on id 1, rest 1 - .625.
    double expectedB =
        0.45 * Math.log(0.45 / 0.6)
            + 0.2625 * Math.log(0.2625 / 0.025)
            + 0.2875 * Math.log(0.2875 / 0.375);
    assertThat(Fusion.kl(f, B, 0, V)).isCloseTo(expectedB, within(1e-6));
  }

  @Test
  void fusingATeacherWithItselfGivesItBackWithZeroKl() {
    SoftLabels f = Fusion.fuse(List.of(A, A), HALF, V, 2);

    assertThat(f.ids()).containsExactly(1, 2);
    assertThat(f.prob(0, 0)).isCloseTo(0.5f, within(1e-6f));
    assertThat(f.tail(0)).isCloseTo(0.2f, within(1e-6f));
    assertThat(Fusion.kl(f, A, 0, V)).isCloseTo(0.0, within(1e-7));
  }
}
