package dev.distill.teacher.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.teacher.TestTeachers;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SampledSoftLabelerTest {

  @Test
  void aCertainTeacherGivesAllNSamplesToItsOneTokenAndHandComputedStatistics() {
    // V = 3; logits (0, 0, 100) at T = 1: p = (e^-100/Z, e^-100/Z, ~1), every draw is id 2
    float[] logits = {0f, 0f, 100f, 0f, 0f, 100f};
    try (NDManager m = NDManager.newBaseManager()) {
      List<int[]> batch = List.<int[]>of(new int[] {0, 2, 1});
      LabeledSequence s =
          SoftLabeler.sampledFromLogits(m.create(logits, new Shape(1, 2, 3)), batch, 1f, 4).get(0);
      SoftLabels l = s.labels();
      assertThat(l.sampled()).isTrue();
      assertThat(l.k()).isEqualTo(4);
      // ids ascending then padding (lowest unused ids) at probability 0
      assertThat(l.ids()).containsExactly(2, 0, 1, 3, 2, 0, 1, 3);
      assertThat(l.probs()).containsExactly(1f, 0f, 0f, 0f, 1f, 0f, 0f, 0f);
      assertThat(l.tails()).containsExactly(0f, 0f);
      assertThat(s.meanTopkMass()).isCloseTo(1f, within(1e-6f));
      // next tokens are 2 (drawn) then 1 (not drawn): half the positions are outside
      assertThat(s.labelOutsideTopkRate()).isEqualTo(0.5f);
      assertThat(s.meanTop1Margin()).isCloseTo(1f, within(1e-6f));
      assertThat(s.meanEntropy()).isCloseTo(0f, within(1e-6f));
    }
  }

  @Test
  void theMeanOfSampledLabelsIsTheTeachersDistributionAtT() {
    // V = 2; logits (0, ln 3) at T = 1 give p = (0.25, 0.75); 2,000 positions of N = 12
    int positions = 2000;
    float[] logits = new float[positions * 2];
    for (int p = 0; p < positions; p++) {
      logits[2 * p + 1] = (float) Math.log(3);
    }
    int[] seq = new int[positions + 1];
    try (NDManager m = NDManager.newBaseManager()) {
      SoftLabels l =
          SoftLabeler.sampledFromLogits(
                  m.create(logits, new Shape(1, positions, 2)), List.of(seq), 1f, 12)
              .get(0)
              .labels();
      double mass1 = 0;
      for (int p = 0; p < positions; p++) {
        for (int j = 0; j < l.k(); j++) {
          if (l.id(p, j) == 1) {
            mass1 += l.prob(p, j);
          }
        }
      }
      // standard error sqrt(0.25 * 0.75 / 24000) = 0.0028: 4 of them
      assertThat(mass1 / positions).isCloseTo(0.75, within(0.012));
    }
  }

  @Test
  void theSameSequenceIsSampledTheSameWayAndLabelsOfAnyLengthsComeBackInOrder() {
    try (LocalTeacher t = TestTeachers.tiny(16, 3, 2f)) {
      SoftLabeler labeler = new SoftLabeler(t.model(), t.config());
      List<int[]> seqs = new ArrayList<>();
      seqs.add(t.encode("the cat sat"));
      seqs.add(t.encode("on a mat."));
      seqs.add(t.encode("the cat sat"));
      List<LabeledSequence> out = labeler.labelSampled(seqs, 6);
      assertThat(out).hasSize(3);
      assertThat(out.get(0).labels()).isEqualTo(out.get(2).labels());
      assertThat(out.get(1).tokens()).isEqualTo(seqs.get(1));
      SoftLabels l = out.get(1).labels();
      assertThat(l.positions()).isEqualTo(seqs.get(1).length - 1);
      for (int p = 0; p < l.positions(); p++) {
        double sum = 0;
        for (int j = 0; j < l.k(); j++) {
          // each probability is a count over N = 6
          assertThat(l.prob(p, j) * 6).isCloseTo(Math.round(l.prob(p, j) * 6), within(1e-5f));
          sum += l.prob(p, j);
        }
        assertThat(sum).isCloseTo(1.0, within(1e-6));
      }
    }
  }

  @Test
  void moreSamplesThanTheVocabularyIsRefused() {
    try (LocalTeacher t = TestTeachers.tiny(16, 3, 2f)) {
      SoftLabeler labeler = new SoftLabeler(t.model(), t.config());
      assertThatThrownBy(() -> labeler.labelSampled(List.of(t.encode("ab")), 1000))
          .hasMessageContaining("samples per position");
    }
  }
}
