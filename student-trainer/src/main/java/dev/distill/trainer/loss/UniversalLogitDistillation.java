package dev.distill.trainer.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.distill.models.autograd.Scalars;

/**
 * Universal Logit Distillation (ULD; Boizard et al. 2024, "Towards Cross-Tokenizer Distillation:
 * the Universal Logit Distillation Loss for LLMs", arXiv:2402.12030, section 3): a loss between a
 * teacher and a student whose vocabularies differ, so no token id of one means anything to the
 * other.
 *
 * <p>The Wasserstein-1 distance with a cost that does not depend on which tokens are matched has a
 * closed form: sort both probability vectors in decreasing order, pad the shorter vocabulary with
 * zeros to {@code V = max(V_t, V_s)}, and sum the absolute differences rank by rank:
 *
 * <pre>
 *   ULD(P, Q) = sum_{r=1..V} | p_(r) - q_(r) |        p_(1) >= p_(2) >= ..., likewise q
 *   q = softmax(z / T) over the student's V_s ids; loss = mean over positions with mask 1
 * </pre>
 *
 * <p>Positions are paired index by index (the paper truncates both sequences to the shorter one);
 * the caller decides which student position matches which teacher position. Our teacher is stored
 * as top-k + tail: the teacher's sorted vector is its top-k probabilities (sorted), then its tail
 * spread uniformly over the other {@code V_t - k} ids ({@code tail / (V_t - k)} each; a tail token
 * is never more probable than a top-k one, so this keeps the order), then {@code V - V_t} zeros.
 * That uniform reading is the approximation: the teacher's true tail ranks are unknown. ULD is a
 * total-variation-like distance, not a KL: it is in [0, 2], and no {@code T^2} factor is applied.
 * The paper adds it to the student's cross-entropy with a weight (our {@code alpha}).
 */
public final class UniversalLogitDistillation {
  private UniversalLogitDistillation() {}

  /**
   * @param studentLogits (B, T, V_s), any float type (cast to float32)
   * @param topkProbs (B, T, k) float32, the teacher's top-k probabilities at {@code temperature}
   * @param tail (B, T) float32, the teacher's mass outside its top-k
   * @param teacherVocab V_t, the teacher's vocabulary size (at least k)
   * @return (B, T) float32, the per-position ULD distance (not masked)
   */
  public static NDArray perPosition(
      NDArray studentLogits, NDArray topkProbs, NDArray tail, int teacherVocab, float temperature) {
    LossOps.checkTemperature(temperature);
    LossOps.checkShapes(
        studentLogits,
        topkProbs,
        new NDArray[0],
        new NDArray[] {tail},
        "logits",
        "topkProbs",
        "tail");
    Shape s = studentLogits.getShape();
    Shape k = topkProbs.getShape();
    int kk = (int) k.get(2);
    if (teacherVocab < kk) {
      throw new IllegalArgumentException(
          "teacher vocabulary " + teacherVocab + " is smaller than k = " + kk);
    }
    int vs = (int) s.get(2);
    int v = Math.max(vs, teacherVocab);
    NDManager m = studentLogits.getManager();
    // Student: descending sort of softmax(z / T) (sort is differentiable in its values).
    NDArray q = LossOps.logProbs(studentLogits, temperature).exp();
    NDArray qSorted = q.neg().sort(2).neg();
    if (v > vs) {
      qSorted = qSorted.concat(m.zeros(new Shape(s.get(0), s.get(1), v - vs)), 2);
    }
    // Teacher: top-k, the uniform tail, zeros; sorted again in case quantisation broke the order.
    NDArray p = Scalars.maximum(LossOps.f32(topkProbs), 0f).stopGradient();
    NDArray parts = p;
    if (teacherVocab > kk) {
      NDArray u = Scalars.div(Scalars.maximum(LossOps.f32(tail), 0f), teacherVocab - kk);
      parts =
          parts.concat(
              u.expandDims(2).broadcast(new Shape(k.get(0), k.get(1), teacherVocab - kk)), 2);
    }
    if (v > teacherVocab) {
      parts = parts.concat(m.zeros(new Shape(k.get(0), k.get(1), v - teacherVocab)), 2);
    }
    NDArray pSorted = parts.neg().sort(2).neg().stopGradient();
    return qSorted.sub(pSorted).abs().sum(new int[] {2});
  }

  /** Masked mean over positions of {@link #perPosition}: a scalar float32. */
  public static NDArray loss(
      NDArray studentLogits,
      NDArray topkProbs,
      NDArray tail,
      NDArray mask,
      int teacherVocab,
      float temperature) {
    return LossOps.maskedMean(
        perPosition(studentLogits, topkProbs, tail, teacherVocab, temperature), mask);
  }
}
