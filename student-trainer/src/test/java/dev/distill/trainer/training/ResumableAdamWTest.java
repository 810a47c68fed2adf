package dev.distill.trainer.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.optimizer.Optimizer;
import dev.distill.trainer.NDManagerPerTest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.List;
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

  @Test
  void multiTensorUpdateMatchesThePerParameterUpdateAndItsSavedState() throws IOException {
    // three parameters in two groups: a and b decay, c has 10x the learning rate and no decay
    List<String> ids = List.of("a", "b", "c");
    Map<String, Float> special = Map.of("c", 10f);
    List<Shape> shapes = List.of(new Shape(5, 7), new Shape(3), new Shape(4, 1));
    List<NDArray> flat = new java.util.ArrayList<>();
    List<NDArray> ref = new java.util.ArrayList<>();
    List<float[]> starts = new java.util.ArrayList<>();
    for (Shape shape : shapes) {
      NDArray w = manager.randomNormal(shape);
      starts.add(w.toFloatArray());
      NDArray copy = w.duplicate();
      w.setRequiresGradient(true);
      flat.add(w);
      ref.add(copy);
    }
    ResumableAdamW multi =
        new ResumableAdamW(ResumableAdamWTest::lr, 0.1f, 0.9f, 0.99f, 1e-8f, special);
    ResumableAdamW single =
        new ResumableAdamW(ResumableAdamWTest::lr, 0.1f, 0.9f, 0.99f, 1e-8f, special);
    float maxNorm = 2f;
    for (int step = 0; step < 4; step++) {
      List<NDArray> grads = shapes.stream().map(manager::randomNormal).toList();
      double sq = 0;
      for (NDArray g : grads) {
        sq += g.square().sum().getFloat();
      }
      double norm = Math.sqrt(sq);
      try (NDManager stepManager = manager.newSubManager()) {
        try (GradientCollector gc = manager.getEngine().newGradientCollector()) {
          NDArray loss = flat.get(0).mul(grads.get(0)).sum();
          for (int i = 1; i < flat.size(); i++) {
            loss = loss.add(flat.get(i).mul(grads.get(i)).sum());
          }
          gc.backward(loss);
        }
        ResumableAdamW.Gradients gathered = multi.gather(ids, flat, stepManager);
        assertThat(gathered.clipGlobalNorm(maxNorm)).isCloseTo(norm, within(1e-4 * norm));
        multi.update(gathered);
        gathered.zeroParameterGradients();
      }
      float scale = norm > maxNorm ? (float) (maxNorm / (norm + 1e-6)) : 1f;
      for (int i = 0; i < ids.size(); i++) {
        single.update(ids.get(i), ref.get(i), grads.get(i).mul(manager.create(scale)));
        assertThat(flat.get(i).getGradient().abs().max().getFloat()).isZero();
      }
    }
    for (int i = 0; i < ids.size(); i++) {
      assertThat(flat.get(i).toFloatArray())
          .containsExactly(ref.get(i).toFloatArray(), within(1e-6f));
      assertThat(flat.get(i).toFloatArray()).isNotEqualTo(starts.get(i));
    }
    // the moments saved after multi-tensor steps (views into the flat arrays) are the per-parameter
    // path's: both continue identically from their saved states
    Map<String, String> names = Map.of("a", "a", "b", "b", "c", "c");
    ByteArrayOutputStream multiState = new ByteArrayOutputStream();
    multi.save(new DataOutputStream(multiState), names);
    ByteArrayOutputStream singleState = new ByteArrayOutputStream();
    single.save(new DataOutputStream(singleState), names);
    ResumableAdamW fromMulti =
        new ResumableAdamW(ResumableAdamWTest::lr, 0.1f, 0.9f, 0.99f, 1e-8f, special);
    fromMulti.load(
        new DataInputStream(new ByteArrayInputStream(multiState.toByteArray())), names, manager);
    ResumableAdamW fromSingle =
        new ResumableAdamW(ResumableAdamWTest::lr, 0.1f, 0.9f, 0.99f, 1e-8f, special);
    fromSingle.load(
        new DataInputStream(new ByteArrayInputStream(singleState.toByteArray())), names, manager);
    NDArray x = manager.zeros(shapes.get(0));
    NDArray y = manager.zeros(shapes.get(0));
    NDArray g = manager.ones(shapes.get(0));
    fromMulti.update("a", x, g);
    fromSingle.update("a", y, g);
    assertThat(fromMulti.steps()).isEqualTo(5);
    assertThat(x.toFloatArray()).containsExactly(y.toFloatArray(), within(1e-6f));
  }
}
