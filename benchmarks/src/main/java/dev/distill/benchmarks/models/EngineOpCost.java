package dev.distill.benchmarks.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.pytorch.jni.JniUtils;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * The calling thread's CPU microseconds per engine op through DJL, at the shapes of one batch-1
 * decoding step of the demo teacher (128 wide, 4 heads of 32, 40 cached positions): best of 5
 * batches of 5,000 calls, each result closed. {@code scripts/op_cost_pytorch.py} times the same ops
 * in PyTorch eager from Python, for the per-op overhead of each side (issue 13). Run with {@code
 * OMP_NUM_THREADS=1 -Dai.djl.pytorch.num_threads=1}.
 */
public final class EngineOpCost {

  private EngineOpCost() {}

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  private static void time(String name, Supplier<NDArray> op) {
    double best = Double.MAX_VALUE;
    for (int batch = 0; batch < 5; batch++) {
      int n = 5000;
      long c0 = THREADS.getCurrentThreadCpuTime();
      for (int i = 0; i < n; i++) {
        op.get().close();
      }
      best = Math.min(best, (THREADS.getCurrentThreadCpuTime() - c0) / 1e3 / n);
    }
    System.out.printf(Locale.ROOT, "%-26s %6.2f us%n", name, best);
  }

  public static void main(String[] args) {
    try (NDManager m = NDManager.newBaseManager()) {
      JniUtils.setGradMode(false);
      NDArray x = m.randomNormal(new Shape(1, 128));
      NDArray h = m.randomNormal(new Shape(1, 512));
      NDArray wQkv = m.randomNormal(new Shape(384, 128));
      NDArray bQkv = m.randomNormal(new Shape(384));
      NDArray wProj = m.randomNormal(new Shape(128, 512));
      NDArray wte = m.randomNormal(new Shape(65, 128));
      NDArray gamma = m.ones(new Shape(128));
      NDArray beta = m.zeros(new Shape(128));
      NDArray q = m.randomNormal(new Shape(1, 4, 1, 32));
      NDArray k = m.randomNormal(new Shape(1, 4, 40, 32));
      time("add 1x128", () -> x.add(x));
      time("reshape 1x512", () -> h.reshape(4, 128));
      time("gelu 1x512", () -> h.getNDArrayInternal().gelu());
      time("linear 128->384 + bias", () -> Linear.linear(x, wQkv, bQkv).singletonOrThrow());
      time("linear 512->128", () -> Linear.linear(h, wProj, null).singletonOrThrow());
      time("head 128->65", () -> Linear.linear(x, wte, null).singletonOrThrow());
      time(
          "layer_norm 128",
          () ->
              x.getNDArrayInternal()
                  .layerNorm(x, new Shape(128), gamma, beta, 1e-5f)
                  .singletonOrThrow());
      time("q k^T (4 heads, 40 keys)", () -> q.matMul(k.transpose(0, 1, 3, 2)));
      time("softmax 1x512", () -> h.softmax(-1));
    }
  }
}
