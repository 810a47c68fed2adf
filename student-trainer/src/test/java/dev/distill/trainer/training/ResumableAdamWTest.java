package dev.distill.trainer.training;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.optimizer.Optimizer;
import dev.distill.trainer.NDManagerPerTest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ResumableAdamWTest extends NDManagerPerTest {
  @BeforeEach
  void seed() {
    manager.getEngine().setRandomSeed(9);
  }

  private static float lr(int t) {
    return 1e-2f / t;
  }

  @Test
  void updatesExactlyLikeDjlsAdamW() {
    NDArray start = manager.randomNormal(new Shape(5, 7));
    NDArray[] grads = new NDArray[4];
    for (int i = 0; i < grads.length; i++) {
      grads[i] = manager.randomNormal(new Shape(5, 7));
    }
    NDArray a = start.duplicate();
    NDArray b = start.duplicate();
    Optimizer djl =
        Optimizer.adamW()
            .optLearningRateTracker((String id, int n) -> lr(n))
            .optWeightDecays(0.1f)
            .optBeta1(0.9f)
            .optBeta2(0.99f)
            .build();
    ResumableAdamW ours = new ResumableAdamW(ResumableAdamWTest::lr, 0.1f, 0.9f, 0.99f, 1e-8f);
    for (NDArray g : grads) {
      djl.update("w", a, g);
      ours.update("w", b, g);
    }
    assertThat(b.toFloatArray()).containsExactly(a.toFloatArray());
    assertThat(b.toFloatArray()).isNotEqualTo(start.toFloatArray());
    assertThat(ours.steps()).isEqualTo(4);
  }

  @Test
  void savedAndRestoredStateContinuesExactly() throws IOException {
    NDArray start = manager.randomNormal(new Shape(3, 4));
    NDArray g1 = manager.randomNormal(new Shape(3, 4));
    NDArray g2 = manager.randomNormal(new Shape(3, 4));
    NDArray straight = start.duplicate();
    ResumableAdamW one = new ResumableAdamW(ResumableAdamWTest::lr, 0.1f, 0.9f, 0.99f, 1e-8f);
    one.update("id-1", straight, g1);
    one.update("id-1", straight, g2);

    NDArray resumed = start.duplicate();
    ResumableAdamW before = new ResumableAdamW(ResumableAdamWTest::lr, 0.1f, 0.9f, 0.99f, 1e-8f);
    before.update("id-1", resumed, g1);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    before.save(new DataOutputStream(bytes), Map.of("id-1", "h0.fc.weight"));
    // a new process: parameter ids differ, names do not
    ResumableAdamW after = new ResumableAdamW(ResumableAdamWTest::lr, 0.1f, 0.9f, 0.99f, 1e-8f);
    after.load(
        new DataInputStream(new ByteArrayInputStream(bytes.toByteArray())),
        Map.of("id-2", "h0.fc.weight"),
        manager);
    after.update("id-2", resumed, g2);
    assertThat(resumed.toFloatArray()).containsExactly(straight.toFloatArray());
  }
}
