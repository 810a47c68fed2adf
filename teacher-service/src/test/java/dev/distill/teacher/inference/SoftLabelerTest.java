package dev.distill.teacher.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.schemas.validation.SoftLabelValidator;
import dev.distill.teacher.TestTeachers;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class SoftLabelerTest {
  static LanguageModel teacher;
  static final float T = 2.0f;

  @BeforeAll
  static void teacher() {
    teacher = TestTeachers.model(TestTeachers.ALPHABET, 16, 2, 16, 42);
  }

  @AfterAll
  static void close() {
    teacher.close();
  }

  /** softmax(z / T) of one position, computed on the host from the raw logits. */
  private static double[] hostProbs(int[] input, int position) {
    try (NDManager m = NDManager.newBaseManager()) {
      float[] z = teacher.logits(m, new int[][] {input}).toFloatArray();
      int v = teacher.config().vocabSize();
      double max = Double.NEGATIVE_INFINITY;
      for (int i = 0; i < v; i++) {
        max = Math.max(max, z[position * v + i] / T);
      }
      double[] p = new double[v];
      double sum = 0;
      for (int i = 0; i < v; i++) {
        p[i] = Math.exp(z[position * v + i] / T - max);
        sum += p[i];
      }
      for (int i = 0; i < v; i++) {
        p[i] /= sum;
      }
      return p;
    }
  }

  @Test
  void topKAreTheLargestProbabilitiesAtTemperatureAndTailIsTheRest() {
    int[] seq = teacher.tokenizer().encode("hello world, ok.");
    SoftLabeler labeler = new SoftLabeler(teacher, new LabelingConfig(4, T, 8));
    LabeledSequence out = labeler.label(List.of(seq)).get(0);
    SoftLabels labels = out.labels();
    assertThat(labels.positions()).isEqualTo(seq.length - 1);
    int[] input = java.util.Arrays.copyOf(seq, seq.length - 1);
    for (int pos = 0; pos < labels.positions(); pos += 5) {
      double[] p = hostProbs(input, pos);
      double[] sorted = p.clone();
      java.util.Arrays.sort(sorted);
      double mass = 0;
      for (int j = 0; j < 4; j++) {
        assertThat((double) labels.prob(pos, j)).isCloseTo(p[labels.id(pos, j)], within(1e-5));
        assertThat((double) labels.prob(pos, j))
            .isCloseTo(sorted[sorted.length - 1 - j], within(1e-5));
        mass += labels.prob(pos, j);
      }
      assertThat((double) labels.tail(pos)).isCloseTo(1 - mass, within(1e-5));
    }
    assertThat(SoftLabelValidator.validate(labels, teacher.config().vocabSize())).isEmpty();
  }

  @Test
  void summaryStatisticsMatchTheDistribution() {
    int[] seq = teacher.tokenizer().encode("abcabcabcabc");
    LabeledSequence out =
        new SoftLabeler(teacher, new LabelingConfig(3, T, 8)).label(List.of(seq)).get(0);
    int[] input = java.util.Arrays.copyOf(seq, seq.length - 1);
    double entropy = 0;
    int outside = 0;
    for (int pos = 0; pos < input.length; pos++) {
      double[] p = hostProbs(input, pos);
      for (double x : p) {
        entropy -= x > 0 ? x * Math.log(x) : 0;
      }
      outside += out.labels().contains(pos, seq[pos + 1]) ? 0 : 1;
    }
    assertThat((double) out.meanEntropy()).isCloseTo(entropy / input.length, within(1e-4));
    assertThat((double) out.labelOutsideTopkRate())
        .isCloseTo((double) outside / input.length, within(1e-6));
    assertThat(out.meanTopkMass()).isBetween(0f, 1f);
    assertThat(out.meanTop1Margin()).isBetween(0f, 1f);
  }

  @Test
  void batchingDoesNotChangeTheLabels() {
    int[] a = teacher.tokenizer().encode("the quick fox.");
    int[] b = teacher.tokenizer().encode("jumps over it ");
    List<LabeledSequence> together =
        new SoftLabeler(teacher, new LabelingConfig(4, T, 8)).label(List.of(a, b));
    List<LabeledSequence> alone =
        new SoftLabeler(teacher, new LabelingConfig(4, T, 1)).label(List.of(a, b));
    for (int i = 0; i < 2; i++) {
      float[] x = together.get(i).labels().probs();
      float[] y = alone.get(i).labels().probs();
      for (int j = 0; j < x.length; j++) {
        assertThat(x[j]).isCloseTo(y[j], within(1e-5f));
      }
      assertThat(together.get(i).labels().ids()).isEqualTo(alone.get(i).labels().ids());
    }
  }

  @Test
  void kLargerThanTheVocabularyIsRefused() {
    assertThatThrownBy(() -> new SoftLabeler(teacher, new LabelingConfig(1000, T, 8)))
        .hasMessageContaining("exceeds the vocabulary");
  }

  @Test
  void invalidConfigIsRefused() {
    assertThatThrownBy(() -> new LabelingConfig(4, 0f, 8)).hasMessageContaining("temperature");
    assertThatThrownBy(() -> new LabelingConfig(0, 1f, 8)).hasMessageContaining("topK");
  }
}
