package dev.distill.models.autograd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class ScalarsTest {

  /**
   * Between the forward and the backward pass: collect garbage (so the JVM frees any direct buffer
   * nobody references) and fill freshly allocated small direct buffers with 1e30, which lands in
   * the freed memory. With DJL's {@code mul(Number)} this made the gradient 1e30 in 20 of 20 runs.
   */
  private static void churnDirectMemory() throws InterruptedException {
    List<ByteBuffer> junk = new ArrayList<>();
    for (int round = 0; round < 4; round++) {
      System.gc();
      Thread.sleep(20);
      for (int i = 0; i < 2000; i++) {
        ByteBuffer b = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder());
        b.putFloat(0, 1e30f);
        junk.add(b);
      }
    }
    assertThat(junk).hasSize(8000);
  }

  /** d/dx of sum(op(x)) at x, computed with memory churn between the forward and backward pass. */
  private static float[] gradient(float[] x, UnaryOperator<NDArray> op) throws Exception {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray a = m.create(x);
      a.setRequiresGradient(true);
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        NDArray y = op.apply(a).sum();
        churnDirectMemory();
        gc.backward(y);
      }
      return a.getGradient().toFloatArray();
    }
  }

  @Test
  void mulKeepsTheScalarAliveForTheBackwardPass() throws Exception {
    assertThat(gradient(new float[] {1f, 2f}, x -> Scalars.mul(x, 3f))).containsExactly(3f, 3f);
  }

  @Test
  void inPlaceMulOfAnIntermediateBackpropagatesTheScalar() throws Exception {
    assertThat(gradient(new float[] {1f, 2f}, x -> Scalars.muli(x.mul(x), 0.5f)))
        .containsExactly(1f, 2f);
  }

  @Test
  void divBackpropagatesOneOverTheScalar() throws Exception {
    assertThat(gradient(new float[] {1f, -4f}, x -> Scalars.div(x, 4f)))
        .containsExactly(0.25f, 0.25f);
  }

  @Test
  void powBackpropagatesTheExponent() throws Exception {
    float[] g = gradient(new float[] {2f, 3f}, x -> Scalars.pow(x, 3f));
    assertThat(g[0]).isCloseTo(12f, within(1e-4f));
    assertThat(g[1]).isCloseTo(27f, within(1e-4f));
  }

  @Test
  void maximumAndMinimumRouteTheGradientToTheSideThatWon() throws Exception {
    assertThat(gradient(new float[] {-1f, 2f}, x -> Scalars.maximum(x, 0f)))
        .containsExactly(0f, 1f);
    assertThat(gradient(new float[] {-1f, 2f}, x -> Scalars.minimum(x, 0f)))
        .containsExactly(1f, 0f);
  }

  @Test
  void theScalarHasTheArraysTypeAndValue() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray s = Scalars.of(m.create(new double[] {1.0}), 0.25f);
      assertThat(s.getDataType()).isEqualTo(ai.djl.ndarray.types.DataType.FLOAT64);
      assertThat(s.getShape().dimension()).isZero();
      assertThat(s.getDouble()).isEqualTo(0.25);
    }
  }
}
