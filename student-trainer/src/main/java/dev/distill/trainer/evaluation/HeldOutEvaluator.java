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
 * full vocabulary at T = 1 (docs/architecture.md naming), in nats per token; reverse KL(student ||
 * teacher) and JSD(0.5) beside it.
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
    return evaluate(name, model, bytesOnDisk, null, null);
  }

  /**
   * As {@link #evaluate(String, LanguageModel, long)}, and every window also goes into {@code
   * slices} as one example of {@code task}, from the same forward passes (no extra cost).
   */
  public EvalResult evaluate(
      String name,
      LanguageModel model,
      long bytesOnDisk,
      String task,
      SliceMetrics.Accumulator slices) {
    double nll = 0;
    double kl = 0;
    double reverseKl = 0;
    double jsd = 0;
    long agree = 0;
    long count = 0;
    Calibration.Builder calibration = new Calibration.Builder(10);
    for (int from = 0; from < windows.size(); from += batchSize) {
      List<int[]> slice = windows.subList(from, Math.min(windows.size(), from + batchSize));
      try (NDManager m = NDManager.newBaseManager()) {
        Scored s = score(m, teacher, model, slice.toArray(new int[0][]));
        for (int i = 0; i < s.nll.length; i++) {
          nll += s.nll[i];
          kl += s.kl[i];
          agree += s.agrees[i] ? 1 : 0;
          calibration.add(s.confidence[i], s.correct[i]);
        }
        count += s.nll.length;
        reverseKl += Divergences.reverseKl(s.logp, s.logq, 1f).sum().getFloat();
        jsd += Divergences.jsd(s.logp, s.logq, 1f, 0.5f).sum().getFloat();
        if (slices != null) {
          s.addTo(task, slices);
        }
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

  /**
   * Scores examples of varying length (token ids; each scores its {@code length - 1} next-token
   * positions) against {@code teacher} into {@code slices} as examples of {@code task}. Examples of
   * equal length run together, {@code batchSize} at a time.
   *
   * @throws IllegalArgumentException naming the example when it has fewer than 2 tokens or more
   *     than the model's context + 1
   */
  public static void scoreExamples(
      LanguageModel teacher,
      LanguageModel model,
      String task,
      List<int[]> examples,
      int batchSize,
      SliceMetrics.Accumulator slices) {
    int max = Math.min(teacher.config().blockSize(), model.config().blockSize()) + 1;
    java.util.Map<Integer, List<int[]>> byLength = new java.util.TreeMap<>();
    for (int i = 0; i < examples.size(); i++) {
      int[] e = examples.get(i);
      if (e.length < 2 || e.length > max) {
        throw new IllegalArgumentException(
            task + " example " + i + " has " + e.length + " tokens; scoring needs 2.." + max);
      }
      byLength.computeIfAbsent(e.length, k -> new ArrayList<>()).add(e);
    }
    for (List<int[]> group : byLength.values()) {
      for (int from = 0; from < group.size(); from += batchSize) {
        List<int[]> batch = group.subList(from, Math.min(group.size(), from + batchSize));
        try (NDManager m = NDManager.newBaseManager()) {
          score(m, teacher, model, batch.toArray(new int[0][])).addTo(task, slices);
        }
      }
    }
  }

  /**
   * Per-position numbers of a batch of equal-length sequences, flattened (sequence-major); {@code
   * logp}/{@code logq} are the teacher's and the model's log-probabilities (B, T, V).
   */
  private record Scored(
      int batch,
      int len,
      NDArray logp,
      NDArray logq,
      double[] nll,
      double[] kl,
      boolean[] agrees,
      double[] confidence,
      boolean[] correct) {
    void addTo(String task, SliceMetrics.Accumulator slices) {
      for (int b = 0; b < batch; b++) {
        int from = b * len;
        int to = from + len;
        slices.add(
            new SliceMetrics.Example(
                task,
                java.util.Arrays.copyOfRange(nll, from, to),
                java.util.Arrays.copyOfRange(kl, from, to),
                java.util.Arrays.copyOfRange(agrees, from, to),
                java.util.Arrays.copyOfRange(confidence, from, to),
                java.util.Arrays.copyOfRange(correct, from, to)));
      }
    }
  }

  private static Scored score(
      NDManager m, LanguageModel teacher, LanguageModel model, int[][] sequences) {
    int len = sequences[0].length - 1;
    int[][] inputs = new int[sequences.length][];
    long[] targets = new long[sequences.length * len];
    for (int b = 0; b < sequences.length; b++) {
      inputs[b] = java.util.Arrays.copyOf(sequences[b], len);
      for (int t = 0; t < len; t++) {
        targets[b * len + t] = sequences[b][t + 1];
      }
    }
    NDArray logq = model.logits(m, inputs).logSoftmax(-1);
    NDArray logp = (model == teacher ? logq : teacher.logits(m, inputs).logSoftmax(-1));
    NDArray target = m.create(targets, new ai.djl.ndarray.types.Shape(sequences.length, len, 1));
    float[] nllF = logq.gather(target, -1).neg().toFloatArray();
    float[] klF = logp.exp().mul(logp.sub(logq)).sum(new int[] {-1}).toFloatArray();
    long[] a = logq.argMax(-1).toLongArray();
    long[] b = logp.argMax(-1).toLongArray();
    float[] conf = logq.max(new int[] {-1}).exp().toFloatArray();
    int n = a.length;
    double[] nll = new double[n];
    double[] kl = new double[n];
    boolean[] agrees = new boolean[n];
    double[] confidence = new double[n];
    boolean[] correct = new boolean[n];
    for (int i = 0; i < n; i++) {
      nll[i] = nllF[i];
      kl[i] = klF[i];
      agrees[i] = a[i] == b[i];
      confidence[i] = conf[i];
      correct[i] = a[i] == targets[i];
    }
    return new Scored(sequences.length, len, logp, logq, nll, kl, agrees, confidence, correct);
  }
}
