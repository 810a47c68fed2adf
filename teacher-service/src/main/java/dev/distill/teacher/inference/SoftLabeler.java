package dev.distill.teacher.inference;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.labels.TopKTail;
import dev.distill.schemas.codec.SoftLabels;
import java.util.ArrayList;
import java.util.List;

/**
 * Exact soft labels from an in-process teacher: {@code p = softmax(z / T)} over the whole
 * vocabulary, then the top-k of p and the tail mass {@code 1 - sum(top-k)}. Entropy is computed on
 * the full distribution, on the device, so only {@code k + 1} numbers per position cross to the
 * host whatever the vocabulary size.
 */
public final class SoftLabeler {
  private final InProcessModel teacher;
  private final LabelingConfig config;

  public SoftLabeler(LanguageModel teacher, LabelingConfig config) {
    this(InProcessModel.of(teacher), config);
  }

  public SoftLabeler(InProcessModel teacher, LabelingConfig config) {
    if (config.topK() > teacher.vocabSize()) {
      throw new IllegalArgumentException(
          "topK " + config.topK() + " exceeds the vocabulary " + teacher.vocabSize());
    }
    this.teacher = teacher;
    this.config = config;
  }

  public LabelingConfig config() {
    return config;
  }

  /**
   * Labels sequences of equal length {@code L + 1 <= contextTokens + 1}: the first L tokens are the
   * input, and position i's label is compared with token i + 1 for the outside-top-k rate.
   */
  public List<LabeledSequence> label(List<int[]> sequences) {
    List<LabeledSequence> out = new ArrayList<>(sequences.size());
    for (int from = 0; from < sequences.size(); from += config.batchSize()) {
      out.addAll(
          labelBatch(
              sequences.subList(from, Math.min(sequences.size(), from + config.batchSize()))));
    }
    return out;
  }

  private List<LabeledSequence> labelBatch(List<int[]> batch) {
    int len = batch.get(0).length;
    if (len < 2) {
      throw new IllegalArgumentException("a sequence needs at least 2 tokens, got " + len);
    }
    int positions = len - 1;
    int[][] inputs = new int[batch.size()][];
    for (int b = 0; b < batch.size(); b++) {
      int[] seq = batch.get(b);
      if (seq.length != len) {
        throw new IllegalArgumentException(
            "sequences in one batch must have equal length: " + seq.length + " vs " + len);
      }
      inputs[b] = java.util.Arrays.copyOf(seq, positions);
    }
    try (NDManager manager = NDManager.newBaseManager()) {
      return fromLogits(teacher.logits(manager, inputs), batch, config);
    }
  }

  /**
   * Soft labels of equal-length sequences from their logits {@code (B, L - 1, V)} (any teacher: our
   * GPT, a TorchScript model): softmax at T on the device, then top-k, tail and statistics.
   */
  public static List<LabeledSequence> fromLogits(
      NDArray logits, List<int[]> batch, LabelingConfig config) {
    int positions = batch.get(0).length - 1;
    int k = config.topK();
    // The one top-k + tail computation (models' TopKTail), shared with the on-policy trainer.
    TopKTail top = TopKTail.of(logits, config.temperature(), k);
    float[] topProbs = top.probs();
    int[] topIds = top.ids();
    float[] entropy = top.entropy();
    float[] tails = top.tails();
    List<LabeledSequence> out = new ArrayList<>(batch.size());
    for (int b = 0; b < batch.size(); b++) {
      int[] seq = batch.get(b);
      int[] ids = new int[positions * k];
      float[] probs = new float[positions * k];
      float[] tail = new float[positions];
      double sumEntropy = 0;
      double sumMargin = 0;
      double sumMass = 0;
      int outside = 0;
      for (int pos = 0; pos < positions; pos++) {
        int base = (b * positions + pos) * k;
        double mass = 0;
        boolean hit = false;
        for (int j = 0; j < k; j++) {
          ids[pos * k + j] = topIds[base + j];
          probs[pos * k + j] = topProbs[base + j];
          mass += topProbs[base + j];
          hit |= topIds[base + j] == seq[pos + 1];
        }
        tail[pos] = tails[b * positions + pos];
        sumMass += mass;
        sumMargin += k > 1 ? topProbs[base] - topProbs[base + 1] : topProbs[base];
        sumEntropy += entropy[b * positions + pos];
        outside += hit ? 0 : 1;
      }
      out.add(
          new LabeledSequence(
              seq,
              new SoftLabels(positions, k, ids, probs, tail),
              (float) (sumEntropy / positions),
              (float) (sumMargin / positions),
              (float) (sumMass / positions),
              (float) outside / positions));
    }
    return out;
  }
}
