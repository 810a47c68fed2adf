package dev.distill.trainer.compression;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.distill.models.gpt.Gpt;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.gpt.PackedExport;
import dev.distill.models.nn.LinearMode;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.trainer.training.BatchSource;
import dev.distill.trainer.training.Checkpointing;
import dev.distill.trainer.training.TextWindows;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainResult;
import dev.distill.trainer.training.TrainingLoop;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LowRankTest {
  private static final String TEXT =
      "now is the winter of our discontent made glorious summer by this sun of york ".repeat(20);
  private static final CharTokenizer TOK = CharTokenizer.fromCorpus(TEXT);
  private static final GptConfig CONFIG = new GptConfig(TOK.vocabSize(), 16, 2, 2, 16, 0f);

  private static int[][] rows() {
    return Windows.of(TOK.encode(TEXT), 16, 0, 30);
  }

  private static float[] logits(LanguageModel lm) {
    try (NDManager m = NDManager.newBaseManager()) {
      return lm.logits(m, rows()).toFloatArray();
    }
  }

  private static float[] random(int m, int n, long seed) {
    Random rng = new Random(seed);
    float[] a = new float[m * n];
    for (int i = 0; i < a.length; i++) {
      a[i] = (float) rng.nextGaussian();
    }
    return a;
  }

  @Test
  void svdReconstructsARandomMatrixAtFullRankInBothOrientations() {
    for (int[] mn : new int[][] {{40, 12}, {12, 40}, {16, 16}}) {
      float[] a = random(mn[0], mn[1], mn[0] * 31L + mn[1]);
      Svd svd = Svd.of(a, mn[0], mn[1]);
      assertThat(svd.k()).isEqualTo(Math.min(mn[0], mn[1]));
      float[] back = svd.reconstruct(svd.k());
      for (int i = 0; i < a.length; i++) {
        assertThat(back[i]).isCloseTo(a[i], within(1e-4f));
      }
      for (int i = 1; i < svd.k(); i++) {
        assertThat(svd.s()[i]).isLessThanOrEqualTo(svd.s()[i - 1]);
      }
    }
  }

  /** A = Q1 diag(s) Q2^T with chosen s: the SVD recovers s and the energy rule picks r from it. */
  @Test
  void energyRulePicksTheSmallestRankKeepingTheEnergy() {
    int m = 10;
    int n = 6;
    double[] s = {4, 3, 2, 1, 0.5, 0}; // squares 16 9 4 1 0.25 0, total 30.25
    double[][] q1 = orthonormal(m, n, 1);
    double[][] q2 = orthonormal(n, n, 2);
    float[] a = new float[m * n];
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        double acc = 0;
        for (int l = 0; l < n; l++) {
          acc += q1[l][i] * s[l] * q2[l][j];
        }
        a[i * n + j] = (float) acc;
      }
    }
    Svd svd = Svd.of(a, m, n);
    for (int i = 0; i < n; i++) {
      assertThat(svd.s()[i]).isCloseTo(s[i], within(1e-5));
    }
    assertThat(svd.rankForEnergy(0.5)).isEqualTo(1); // 16/30.25 = 0.529
    assertThat(svd.rankForEnergy(0.6)).isEqualTo(2); // 16/30.25 = 0.53 < 0.6 <= 25/30.25
    assertThat(svd.rankForEnergy(0.9)).isEqualTo(3); // 29/30.25 = 0.959
    assertThat(svd.rankForEnergy(0.99)).isEqualTo(4); // 30/30.25 = 0.9917
    assertThat(svd.rankForEnergy(1.0)).isEqualTo(5); // the zero singular value adds nothing
    assertThatThrownBy(() -> svd.rankForEnergy(0)).hasMessageContaining("energy");
  }

  /** Gram-Schmidt on random vectors: {@code count} orthonormal vectors of length {@code dim}. */
  private static double[][] orthonormal(int dim, int count, long seed) {
    Random rng = new Random(seed);
    double[][] q = new double[count][dim];
    for (int k = 0; k < count; k++) {
      for (int i = 0; i < dim; i++) {
        q[k][i] = rng.nextGaussian();
      }
      for (int j = 0; j < k; j++) {
        double d = 0;
        for (int i = 0; i < dim; i++) {
          d += q[k][i] * q[j][i];
        }
        for (int i = 0; i < dim; i++) {
          q[k][i] -= d * q[j][i];
        }
      }
      double norm = 0;
      for (double x : q[k]) {
        norm += x * x;
      }
      for (int i = 0; i < dim; i++) {
        q[k][i] /= Math.sqrt(norm);
      }
    }
    return q;
  }

  @Test
  void fullRankFactorisationComputesTheDenseLogits() {
    try (LanguageModel dense = LanguageModel.create(CONFIG, TOK, 7);
        LanguageModel full = LowRank.factoriseByEnergy(dense, 1.0)) {
      assertThat(full.mode()).isEqualTo(LinearMode.LOW_RANK);
      assertThat(full.block().ranks())
          .containsEntry("h0.attn", 16)
          .containsEntry("h1.fc", 16)
          .containsEntry("h1.mlpProj", 16);
      float[] a = logits(dense);
      float[] b = logits(full);
      for (int i = 0; i < a.length; i++) {
        assertThat(b[i]).isCloseTo(a[i], within(1e-4f));
      }
      try (LanguageModel low = LowRank.factorise(dense, 2)) {
        float[] c = logits(low);
        double diff = 0;
        for (int i = 0; i < a.length; i++) {
          diff = Math.max(diff, Math.abs(c[i] - a[i]));
        }
        assertThat(diff).isGreaterThan(1e-3); // rank 2 of 16 is an approximation
      }
    }
  }

  @Test
  void parameterCountHoldsRTimesInPlusOutPerLinearLayer() {
    try (LanguageModel dense = LanguageModel.create(CONFIG, TOK, 7);
        LanguageModel low = LowRank.factorise(dense, 4)) {
      long linear = 0;
      long factored = 0;
      for (long[] s : Gpt.linearShapes(CONFIG).values()) {
        linear += s[0] * s[1];
        factored += 4 * (s[0] + s[1]);
      }
      assertThat(LowRank.parameterCount(low))
          .isEqualTo(LowRank.parameterCount(dense) - linear + factored)
          .isLessThan(LowRank.parameterCount(dense));
      assertThat(low.block().getParameters().get("h0.fc.u").getArray().getShape())
          .isEqualTo(new Shape(64, 4));
      assertThat(low.block().getParameters().get("h0.fc.v").getArray().getShape())
          .isEqualTo(new Shape(4, 16));
    }
  }

  @Test
  void kdFineTuningOfTheFactorsLowersTheLossToTheTeacher() {
    int[] ids = TOK.encode(TEXT);
    try (LanguageModel teacher = LanguageModel.create(CONFIG, TOK, 3)) {
      // a teacher worth imitating: a short hard-label run
      TrainingLoop.run(
          teacher,
          new TextWindows(ids, 16, 8),
          new TextWindows(ids, 16, 8),
          TrainConfig.builder(60, 8, 1e-2f).warmupSteps(5).minLearningRate(1e-3f).seed(1).build(),
          (s, t, l, v, r) -> {});
      try (LanguageModel student = LowRank.factorise(teacher, 3)) {
        float[] uBefore =
            student.block().getParameters().get("h0.attn.u").getArray().toFloatArray();
        LiveTeacherBatches kd = new LiveTeacherBatches(teacher, ids, 16, 8);
        double before = kdLoss(student, kd);
        assertThat(before).isPositive(); // rank 3 of 16 does not match the teacher yet
        TrainResult r =
            TrainingLoop.run(
                student,
                kd,
                kd,
                TrainConfig.builder(30, 8, 3e-3f).warmupSteps(2).seed(5).build(),
                (s, t, l, v, res) -> {},
                Checkpointing.none(),
                null);
        double after = kdLoss(student, kd);
        assertThat(after).isLessThan(0.8 * before);
        assertThat(r.finalValLoss()).isFinite();
        assertThat(student.block().getParameters().get("h0.attn.u").getArray().toFloatArray())
            .isNotEqualTo(uBefore);
      }
    }
  }

  /** The KD loss of {@code lm} on a fixed batch (seeded rng). */
  private static double kdLoss(LanguageModel lm, LiveTeacherBatches kd) {
    try (NDManager m = NDManager.newBaseManager()) {
      BatchSource.Batch batch = kd.next(m, new Random(42));
      int[] flat = batch.inputs().toIntArray();
      int[][] rows = new int[8][];
      for (int i = 0; i < 8; i++) {
        rows[i] = Arrays.copyOfRange(flat, i * 16, (i + 1) * 16);
      }
      return batch.loss(lm.logits(m, rows)).getFloat();
    }
  }

  @Test
  void saveAndLoadGiveTheSameLogitsAndASmallerFile(@TempDir Path dir) throws Exception {
    try (LanguageModel dense = LanguageModel.create(CONFIG, TOK, 9);
        LanguageModel low = LowRank.factoriseByEnergy(dense, 0.5)) {
      long bytes = LowRank.save(low, dir.resolve("low"));
      java.io.ByteArrayOutputStream denseBytes = new java.io.ByteArrayOutputStream();
      dense.block().saveParameters(new java.io.DataOutputStream(denseBytes));
      assertThat(bytes).isPositive();
      long paramBytes = Files.size(dir.resolve("low").resolve("parameters.bin"));
      // float32 values dominate the parameters file
      assertThat(paramBytes)
          .isBetween(4 * LowRank.parameterCount(low), 4 * LowRank.parameterCount(low) + 4096);
      try (LanguageModel back = LowRank.load(dir.resolve("low"))) {
        assertThat(back.block().ranks()).isEqualTo(low.block().ranks());
        assertThat(logits(back)).containsExactly(logits(low));
      }
      assertThatThrownBy(() -> PackedExport.write(low, dir.resolve("packed")))
          .hasMessageContaining("LOW_RANK");
      Files.delete(dir.resolve("low").resolve(LowRank.RANKS));
      assertThatThrownBy(() -> LowRank.load(dir.resolve("low"))).hasMessageContaining("ranks.json");
    }
  }

  @Test
  void ranksMustNameEveryLayerWithinItsShape() {
    assertThatThrownBy(() -> new Gpt(CONFIG, LinearMode.LOW_RANK)).hasMessageContaining("rank");
    assertThatThrownBy(() -> new Gpt(CONFIG, Map.of("h0.attn", 2))).hasMessageContaining("exactly");
  }
}
