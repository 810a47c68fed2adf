package dev.distill.trainer.compression;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.trainer.training.Regularizer;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Pruning of the block linear layers, then KD fine-tuning with the pruned weights held at 0.
 *
 * <ul>
 *   <li>Magnitude: score {@code |W_ij|}.
 *   <li>Wanda (Sun et al. 2023, "A Simple and Effective Pruning Approach for Large Language
 *       Models", arXiv:2306.11695, eq. 1): score {@code |W_ij| * ||X_j||_2}, X the layer's input
 *       activations on a calibration batch; compared within each output row, as in the paper.
 *   <li>Unstructured: the lowest-scoring fraction {@code sparsity} of weights is set to 0 (per
 *       layer for magnitude, per output row for Wanda). Structured: whole output channels (rows of
 *       W and their bias) with the lowest summed score are removed.
 * </ul>
 *
 * <p>Used as a {@link Regularizer} during fine-tuning: it adds nothing to the loss and multiplies
 * the pruned weights' gradients by 0 after every backward, so AdamW never moves them (their moments
 * stay 0 and weight decay of 0 is 0).
 */
final class Pruning implements Regularizer {
  /** Which score. */
  public enum Method {
    MAGNITUDE,
    WANDA
  }

  private final Map<String, float[]> masks; // parameter name -> 0/1 mask of the same size

  private Pruning(Map<String, float[]> masks) {
    this.masks = masks;
  }

  /**
   * Scores, masks and zeroes the block linear layers of {@code lm} in place.
   *
   * @param sparsity fraction to remove, in [0, 1)
   * @param structured remove whole output channels instead of single weights
   * @param calibration token rows for Wanda's activation norms (ignored for magnitude)
   */
  public static Pruning apply(
      LanguageModel lm, Method method, float sparsity, boolean structured, int[][] calibration) {
    Objects.requireNonNull(method, "method");
    if (!(sparsity >= 0f && sparsity < 1f)) {
      throw new IllegalArgumentException("sparsity must be in [0, 1), got " + sparsity);
    }
    Map<String, float[]> norms =
        method == Method.WANDA ? inputNorms(lm, Objects.requireNonNull(calibration)) : Map.of();
    Map<String, float[]> masks = new LinkedHashMap<>();
    for (Pair<String, Parameter> p : lm.block().getParameters()) {
      String name = p.getKey();
      if (!(name.startsWith("h") && name.endsWith(".weight"))) {
        continue;
      }
      String layer = name.substring(0, name.length() - ".weight".length());
      NDArray w = p.getValue().getArray();
      int rows = (int) w.getShape().get(0);
      int cols = (int) w.getShape().get(1);
      float[] v = w.toFloatArray();
      float[] score = new float[v.length];
      float[] xn = norms.get(layer);
      for (int i = 0; i < v.length; i++) {
        score[i] = Math.abs(v[i]) * (xn == null ? 1f : xn[i % cols]);
      }
      float[] mask = new float[v.length];
      Arrays.fill(mask, 1f);
      if (structured) {
        float[] rowScore = new float[rows];
        for (int r = 0; r < rows; r++) {
          for (int c = 0; c < cols; c++) {
            rowScore[r] +=
                method == Method.MAGNITUDE
                    ? v[r * cols + c] * v[r * cols + c]
                    : score[r * cols + c];
          }
        }
        int drop = (int) Math.floor(sparsity * rows);
        for (int r : lowest(rowScore, drop)) {
          Arrays.fill(mask, r * cols, (r + 1) * cols, 0f);
        }
        float[] biasMask = new float[rows];
        for (int r = 0; r < rows; r++) {
          biasMask[r] = mask[r * cols];
        }
        masks.put(layer + ".bias", biasMask);
      } else if (method == Method.WANDA) {
        int drop = (int) Math.floor(sparsity * cols);
        for (int r = 0; r < rows; r++) {
          float[] row = Arrays.copyOfRange(score, r * cols, (r + 1) * cols);
          for (int c : lowest(row, drop)) {
            mask[r * cols + c] = 0f;
          }
        }
      } else {
        int drop = (int) Math.floor(sparsity * v.length);
        for (int i : lowest(score, drop)) {
          mask[i] = 0f;
        }
      }
      masks.put(name, mask);
    }
    Pruning pruning = new Pruning(masks);
    pruning.applyToWeights(lm);
    return pruning;
  }

  /** Indices of the {@code n} smallest values (ties by index). */
  private static int[] lowest(float[] values, int n) {
    Integer[] idx = new Integer[values.length];
    for (int i = 0; i < idx.length; i++) {
      idx[i] = i;
    }
    Arrays.sort(idx, (a, b) -> Float.compare(values[a], values[b]));
    int[] out = new int[n];
    for (int i = 0; i < n; i++) {
      out[i] = idx[i];
    }
    return out;
  }

  /** {@code ||X_j||_2} per input feature of every block linear layer over the calibration rows. */
  static Map<String, float[]> inputNorms(LanguageModel lm, int[][] calibration) {
    Map<String, float[]> sq = new HashMap<>();
    lm.block()
        .observeLinearInputs(
            (layer, x) -> {
              float[] s = x.square().sum(new int[] {0, 1}).toFloatArray();
              sq.merge(
                  layer,
                  s,
                  (a, b) -> {
                    for (int i = 0; i < a.length; i++) {
                      a[i] += b[i];
                    }
                    return a;
                  });
            });
    try (NDManager m = NDManager.newBaseManager()) {
      lm.logits(m, calibration);
    } finally {
      lm.block().observeLinearInputs(null);
    }
    Map<String, float[]> out = new HashMap<>();
    sq.forEach(
        (k, v) -> {
          float[] n = new float[v.length];
          for (int i = 0; i < v.length; i++) {
            n[i] = (float) Math.sqrt(v[i]);
          }
          out.put(k, n);
        });
    return out;
  }

  private void applyToWeights(LanguageModel lm) {
    for (Pair<String, Parameter> p : lm.block().getParameters()) {
      float[] mask = masks.get(p.getKey());
      if (mask != null) {
        NDArray a = p.getValue().getArray();
        float[] v = a.toFloatArray();
        for (int i = 0; i < v.length; i++) {
          v[i] *= mask[i];
        }
        a.set(FloatBuffer.wrap(v));
      }
    }
  }

  /** Fraction of zero weights per pruned block linear weight, by layer name. */
  public static Map<String, Double> sparsity(LanguageModel lm) {
    Map<String, Double> out = new LinkedHashMap<>();
    for (Pair<String, Parameter> p : lm.block().getParameters()) {
      String name = p.getKey();
      if (name.startsWith("h") && name.endsWith(".weight")) {
        float[] v = p.getValue().getArray().toFloatArray();
        long zeros = 0;
        for (float x : v) {
          zeros += x == 0f ? 1 : 0;
        }
        out.put(name.substring(0, name.length() - ".weight".length()), (double) zeros / v.length);
      }
    }
    return out;
  }

  @Override
  public NDArray penalty(LanguageModel model, NDManager stepManager, int step) {
    return null;
  }

  @Override
  public void afterBackward(LanguageModel model) {
    for (Pair<String, Parameter> p : model.block().getParameters()) {
      float[] mask = masks.get(p.getKey());
      if (mask != null) {
        NDArray a = p.getValue().getArray();
        try (NDArray g = a.getGradient();
            NDArray m = g.getManager().create(mask, new Shape(a.getShape().getShape()))) {
          g.muli(m);
        }
      }
    }
  }
}
