package dev.distill.trainer.compression;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.trainer.training.BatchSource;
import java.util.Arrays;
import java.util.Objects;
import java.util.Random;

/**
 * KD batches against a live teacher model (the dense model a compressed student came from): random
 * windows of {@code t} tokens, loss = forward KL(p_teacher || p_student) at temperature 1, averaged
 * over positions (docs/architecture.md convention). Used to fine-tune a compressed student from its
 * own dense parent without curated soft labels (recovery fine-tuning after factorisation).
 */
public final class LiveTeacherBatches implements BatchSource {
  private final LanguageModel teacher;
  private final int[] ids;
  private final int t;
  private final int b;

  public LiveTeacherBatches(LanguageModel teacher, int[] ids, int t, int b) {
    this.teacher = Objects.requireNonNull(teacher, "teacher");
    this.ids = Objects.requireNonNull(ids, "ids");
    if (t < 1 || t > teacher.config().blockSize() || ids.length <= t || b < 1) {
      throw new IllegalArgumentException(
          "need 1 <= t <= blockSize < tokens and b >= 1, got t="
              + t
              + " tokens="
              + ids.length
              + " b="
              + b);
    }
    this.t = t;
    this.b = b;
  }

  @Override
  public Batch next(NDManager manager, Random rng) {
    int[][] rows = new int[b][];
    int[] flat = new int[b * t];
    for (int i = 0; i < b; i++) {
      int start = rng.nextInt(ids.length - t);
      rows[i] = Arrays.copyOfRange(ids, start, start + t);
      System.arraycopy(rows[i], 0, flat, i * t, t);
    }
    NDArray inputs = manager.create(flat, new Shape(b, t));
    NDArray logP = teacher.logits(manager, rows).logSoftmax(-1);
    NDArray p = logP.exp();
    // KL(p || q) = sum_v p_v (log p_v - log q_v)
    return Batch.of(
        inputs,
        (long) b * t,
        logits -> p.mul(logP.sub(logits.logSoftmax(-1))).sum(new int[] {-1}).mean());
  }
}
