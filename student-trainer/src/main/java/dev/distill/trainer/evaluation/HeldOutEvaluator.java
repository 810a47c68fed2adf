package dev.distill.trainer.evaluation;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.trainer.loss.Divergences;
import java.util.ArrayList;
import java.util.List;

/**
 * Student against teacher on held-out text: the same fixed, non-overlapping windows for every
 * model, so numbers in one report are comparable. KL is forward KL(teacher || student) over the
 * full vocabulary at T = 1 (DESIGN.md naming), in nats per token; reverse KL(student || teacher)
 * and JSD(0.5) beside it.
 */
public final class HeldOutEvaluator {
  private final LanguageModel teacher;
  private final List<int[]> windows;
  private final int batchSize;

  /**
   * @param heldOut token ids of the held-out text
   * @param blockSize context length; windows have blockSize + 1 tokens
   * @param maxWindows cap on windows (taken from the start, evenly strided)
   */
  public HeldOutEvaluator(
      LanguageModel teacher, int[] heldOut, int blockSize, int maxWindows, int batchSize) {
    this.teacher = teacher;
    this.batchSize = batchSize;
    int available = (heldOut.length - 1) / blockSize;
    if (available < 1) {
      throw new IllegalArgumentException("held-out text shorter than one window");
    }
    int n = Math.min(available, maxWindows);
    int stride = available / n;
    this.windows = new ArrayList<>(n);
    for (int w = 0; w < n; w++) {
      int start = w * stride * blockSize;
      int[] win = new int[blockSize + 1];
      System.arraycopy(heldOut, start, win, 0, blockSize + 1);
      windows.add(win);
    }
  }

  public int tokens() {
    return windows.size() * (windows.get(0).length - 1);
  }

  public EvalResult evaluate(String name, LanguageModel model, long bytesOnDisk) {
    double nll = 0;
    double kl = 0;
    double reverseKl = 0;
    double jsd = 0;
    long agree = 0;
    long count = 0;
    Calibration.Builder calibration = new Calibration.Builder(10);
    for (int from = 0; from < windows.size(); from += batchSize) {
      List<int[]> slice = windows.subList(from, Math.min(windows.size(), from + batchSize));
      int len = slice.get(0).length - 1;
      int[][] inputs = new int[slice.size()][];
      long[] targets = new long[slice.size() * len];
      for (int b = 0; b < slice.size(); b++) {
        inputs[b] = java.util.Arrays.copyOf(slice.get(b), len);
        for (int t = 0; t < len; t++) {
          targets[b * len + t] = slice.get(b)[t + 1];
        }
      }
      try (NDManager m = NDManager.newBaseManager()) {
        NDArray logq = model.logits(m, inputs).logSoftmax(-1);
        NDArray logp = (model == teacher ? logq : teacher.logits(m, inputs).logSoftmax(-1));
        NDArray target = m.create(targets, new ai.djl.ndarray.types.Shape(slice.size(), len, 1));
        nll -= logq.gather(target, -1).sum().getFloat();
        kl += logp.exp().mul(logp.sub(logq)).sum().getFloat();
        reverseKl += Divergences.reverseKl(logp, logq, 1f).sum().getFloat();
        jsd += Divergences.jsd(logp, logq, 1f, 0.5f).sum().getFloat();
        long[] a = logq.argMax(-1).toLongArray();
        long[] b = logp.argMax(-1).toLongArray();
        float[] confidence = logq.max(new int[] {-1}).exp().toFloatArray();
        for (int i = 0; i < a.length; i++) {
          agree += a[i] == b[i] ? 1 : 0;
          calibration.add(confidence[i], a[i] == targets[i]);
        }
        count += a.length;
      }
    }
    return new EvalResult(
        name,
        model.config().parameterCount(),
        nll / count,
        (double) agree / count,
        Math.max(0.0, kl / count),
        Math.max(0.0, reverseKl / count),
        Math.max(0.0, jsd / count),
        bytesOnDisk,
        calibration.build());
  }
}
