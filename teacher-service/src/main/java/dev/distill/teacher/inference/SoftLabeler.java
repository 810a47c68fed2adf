package dev.distill.teacher.inference;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.distill.models.autograd.Scalars;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.labels.TopKTail;
import dev.distill.schemas.codec.SampledSoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

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
    int[][] inputs = inputsOf(batch);
    try (NDManager manager = NDManager.newBaseManager()) {
      return fromLogits(teacher.logits(manager, inputs), batch, config);
    }
  }

  /**
   * Sampled soft labels (codec v2, {@link SampledSoftLabelCodec}; Random-Sampling KD, Anshumann et
   * al., ACL 2025) of sequences of any lengths in [2, contextTokens + 1]: per position, {@code
   * samples} ids drawn with replacement from {@code p = softmax(z / T)} over the whole vocabulary,
   * stored as counts, so {@code p_hat(i) = c_i / N} with {@code E[p_hat(i)] = p(i)}. The labels are
   * {@link SoftLabels#sampled()} with k = N (padded at probability 0). Each sequence's generator is
   * seeded from its tokens, N and T, so labelling the same sequence again gives the same record.
   */
  public List<LabeledSequence> labelSampled(List<int[]> sequences, int samples) {
    if (samples < 1 || samples > teacher.vocabSize()) {
      throw new IllegalArgumentException(
          "samples per position must be in [1, " + teacher.vocabSize() + "], got " + samples);
    }
    for (int i = 0; i < sequences.size(); i++) {
      int len = sequences.get(i).length;
      if (len < 2 || len > teacher.contextTokens() + 1) {
        throw new IllegalArgumentException(
            "sequence "
                + i
                + " has "
                + len
                + " tokens, outside [2, "
                + (teacher.contextTokens() + 1)
                + "]");
      }
    }
    return LengthGroups.map(
        sequences,
        equal -> {
          List<LabeledSequence> out = new ArrayList<>(equal.size());
          for (int from = 0; from < equal.size(); from += config.batchSize()) {
            List<int[]> batch =
                equal.subList(from, Math.min(equal.size(), from + config.batchSize()));
            int[][] inputs = inputsOf(batch);
            try (NDManager manager = NDManager.newBaseManager()) {
              out.addAll(
                  sampledFromLogits(
                      teacher.logits(manager, inputs), batch, config.temperature(), samples));
            }
          }
          return out;
        });
  }

  /**
   * Sampled labels of equal-length sequences from their logits {@code (B, L - 1, V)}: softmax at T
   * on the device, then N draws per position on the host (inverse CDF, {@link
   * SampledSoftLabelCodec#sample}). Statistics: entropy and top-1 margin of the full distribution;
   * "top-k mass" is the teacher's mass on the ids drawn, "outside" the share of positions whose
   * next token was not drawn.
   */
  public static List<LabeledSequence> sampledFromLogits(
      NDArray logits, List<int[]> batch, float temperature, int samples) {
    int positions = batch.get(0).length - 1;
    NDArray logp = Scalars.div(logits, temperature).logSoftmax(-1);
    NDArray p = logp.exp();
    float[] entropy = p.mul(logp).sum(new int[] {-1}).neg().toFloatArray();
    float[] margin = marginOf(p);
    float[] all = p.toFloatArray();
    int v = all.length / (batch.size() * positions);
    List<LabeledSequence> out = new ArrayList<>(batch.size());
    for (int b = 0; b < batch.size(); b++) {
      int[] seq = batch.get(b);
      float[][] rows = new float[positions][];
      for (int pos = 0; pos < positions; pos++) {
        int base = (b * positions + pos) * v;
        rows[pos] = java.util.Arrays.copyOfRange(all, base, base + v);
      }
      SampledSoftLabelCodec.Sampled s =
          SampledSoftLabelCodec.sample(
              rows, samples, new Random(seedOf(seq, temperature, samples)));
      double sumEntropy = 0;
      double sumMargin = 0;
      double sumMass = 0;
      int outside = 0;
      for (int pos = 0; pos < positions; pos++) {
        boolean hit = false;
        for (int j = s.offsets()[pos]; j < s.offsets()[pos + 1]; j++) {
          sumMass += rows[pos][s.ids()[j]];
          hit |= s.ids()[j] == seq[pos + 1];
        }
        outside += hit ? 0 : 1;
        sumEntropy += entropy[b * positions + pos];
        sumMargin += margin[b * positions + pos];
      }
      out.add(
          new LabeledSequence(
              seq,
              s.toSoftLabels(samples),
              (float) (sumEntropy / positions),
              (float) (sumMargin / positions),
              (float) (sumMass / positions),
              (float) outside / positions));
    }
    return out;
  }

  /** p(top1) - p(top2) per position (p(top1) when V = 1), on the device. */
  private static float[] marginOf(NDArray p) {
    int two = p.getShape().get(p.getShape().dimension() - 1) > 1 ? 2 : 1;
    NDArray top = p.topK(two, -1, true, true).get(0);
    if (two == 1) {
      return top.squeeze(-1).toFloatArray();
    }
    return top.get("..., 0").sub(top.get("..., 1")).toFloatArray();
  }

  /** A seed from the tokens, T and N (FNV-1a style mix): same input, same draws. */
  static long seedOf(int[] seq, float temperature, int samples) {
    long h = 0xcbf29ce484222325L;
    for (int t : seq) {
      h = (h ^ t) * 0x100000001b3L;
    }
    h = (h ^ Float.floatToIntBits(temperature)) * 0x100000001b3L;
    return (h ^ samples) * 0x100000001b3L;
  }

  private static int[][] inputsOf(List<int[]> batch) {
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
    return inputs;
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
      for (int pos = 0; pos < positions; pos++) {
        int base = (b * positions + pos) * k;
        System.arraycopy(topIds, base, ids, pos * k, k);
        System.arraycopy(topProbs, base, probs, pos * k, k);
        tail[pos] = tails[b * positions + pos];
        sumEntropy += entropy[b * positions + pos];
      }
      out.add(
          LabeledSequence.of(
              seq,
              new SoftLabels(positions, k, ids, probs, tail),
              (float) (sumEntropy / positions)));
    }
    return out;
  }
}
