package dev.distill.trainer.distributed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.distill.training.spi.WorkerTask;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/** DiLoCo's outer Nesterov step (arXiv:2311.08105) on numbers worked out by hand. */
class DiLoCoOuterStepTest {
  @Test
  void twoOuterStepsWithThePapersLrAndMomentumMatchTheHandComputedNesterovUpdate() {
    DiLoCoOuterStep outer = new DiLoCoOuterStep(2, 0.7f, 0.9f);
    float[] start = {1.0f, -2.0f};
    // Step 1, Δ = (0.1, -0.2): v = Δ = (0.1, -0.2); update = Δ + 0.9 v = (0.19, -0.38);
    // θ = θ - 0.7 update = (1 - 0.133, -2 + 0.266) = (0.867, -1.734).
    outer.apply(start, new float[] {0.1f, -0.2f});
    assertThat(start[0]).isCloseTo(0.867f, within(1e-6f));
    assertThat(start[1]).isCloseTo(-1.734f, within(1e-6f));
    assertThat(outer.velocity()[0]).isCloseTo(0.1f, within(1e-7f));
    // Step 2, Δ = (0.1, 0): v = 0.9 (0.1, -0.2) + Δ = (0.19, -0.18);
    // update = Δ + 0.9 v = (0.271, -0.162); θ = (0.867 - 0.1897, -1.734 + 0.1134)
    //        = (0.6773, -1.6206).
    outer.apply(start, new float[] {0.1f, 0.0f});
    assertThat(outer.velocity()[0]).isCloseTo(0.19f, within(1e-6f));
    assertThat(outer.velocity()[1]).isCloseTo(-0.18f, within(1e-6f));
    assertThat(start[0]).isCloseTo(0.6773f, within(1e-6f));
    assertThat(start[1]).isCloseTo(-1.6206f, within(1e-6f));
  }

  @Test
  void withLrOneAndNoMomentumTheOuterStepIsParameterAveraging() {
    // Two workers moved θ = 3 to 2 and to 5: the mean Δ = ((3-2) + (3-5)) / 2 = -0.5, so the
    // step lands on the mean of the workers, 3.5.
    DiLoCoOuterStep outer = new DiLoCoOuterStep(1, 1f, 0f);
    float[] start = {3f};
    outer.apply(start, new float[] {-0.5f});
    assertThat(start[0]).isEqualTo(3.5f);
  }

  @Test
  void savedAndLoadedOuterStateContinuesExactlyAsTheUninterruptedOptimiser() throws IOException {
    DiLoCoOuterStep whole = new DiLoCoOuterStep(2, 0.7f, 0.9f);
    float[] a = {1.0f, -2.0f};
    whole.apply(a, new float[] {0.1f, -0.2f});
    whole.apply(a, new float[] {0.05f, 0.3f});
    ByteArrayOutputStream saved = new ByteArrayOutputStream();
    whole.save(new DataOutputStream(saved));

    DiLoCoOuterStep resumed = new DiLoCoOuterStep(2, 0.7f, 0.9f);
    resumed.load(new DataInputStream(new ByteArrayInputStream(saved.toByteArray())));
    assertThat(resumed.steps()).isEqualTo(2);
    assertThat(resumed.velocity()).containsExactly(whole.velocity());
    float[] b = a.clone();
    float[] c = a.clone();
    whole.apply(a, new float[] {-0.1f, 0.1f});
    resumed.apply(b, new float[] {-0.1f, 0.1f});
    assertThat(b).containsExactly(a);
    assertThat(resumed.steps()).isEqualTo(3);
    // the velocity matters: a fresh optimiser (v = 0) from the same point lands elsewhere
    new DiLoCoOuterStep(2, 0.7f, 0.9f).apply(c, new float[] {-0.1f, 0.1f});
    assertThat(c[0]).isNotEqualTo(a[0]);

    DiLoCoOuterStep other = new DiLoCoOuterStep(3, 0.7f, 0.9f);
    assertThatThrownBy(
            () -> other.load(new DataInputStream(new ByteArrayInputStream(saved.toByteArray()))))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("2 parameters");
  }

  @Test
  void outerLrAndMomentumOutsideTheirRangesAreRefusedByName() {
    assertThatThrownBy(() -> new DiLoCoOuterStep(1, 0f, 0.9f))
        .hasMessageContaining("train.spark.outer-lr");
    assertThatThrownBy(() -> new DiLoCoOuterStep(1, 0.7f, 1f))
        .hasMessageContaining("train.spark.outer-momentum");
  }

  @Test
  void dilocoCheckpointsFallOnlyOnOuterStepBoundaries() {
    // only there every worker holds θ_start; the outer velocity and each worker's inner moments
    // are checkpointed with it (DiLoCoCheckpoints), H = 5 inner steps, 10 steps in all
    WorkerTask.Job c = DataParallelOptionsTest.job(WorkerTask.Sync.DILOCO, "ck", 1);
    assertThat(DataParallelStudentTrainer.checkpointDue(c, 4)).isFalse();
    assertThat(DataParallelStudentTrainer.checkpointDue(c, 5)).isTrue();
    assertThat(DataParallelStudentTrainer.checkpointDue(c, 10)).isTrue();
  }
}
