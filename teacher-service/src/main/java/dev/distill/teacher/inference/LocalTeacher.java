package dev.distill.teacher.inference;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.avro.Rationale;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Predicate;

/**
 * An in-process DJL teacher: exact soft labels from logits ({@link SoftLabeler}), with sequences of
 * different lengths grouped into one forward pass per length, and generation with per-token
 * log-probabilities for the OpenAI-compatible {@code /v1/completions}.
 */
public final class LocalTeacher implements Teacher {
  private final LanguageModel model;
  private final SoftLabeler labeler;
  private final Provenance provenance;

  public LocalTeacher(String teacherId, LanguageModel model, LabelingConfig config) {
    this.model = model;
    this.labeler = new SoftLabeler(model, config);
    this.provenance = TeacherIdentity.provenance(teacherId, model, config);
  }

  public LanguageModel model() {
    return model;
  }

  public LabelingConfig config() {
    return labeler.config();
  }

  @Override
  public synchronized List<LabeledSequence> label(List<int[]> sequences) throws TeacherException {
    Map<Integer, List<Integer>> byLength = new LinkedHashMap<>();
    for (int i = 0; i < sequences.size(); i++) {
      int len = sequences.get(i).length;
      if (len < 2 || len > maxSequenceTokens()) {
        throw new TeacherException(
            "sequence " + i + " has " + len + " tokens, outside [2, " + maxSequenceTokens() + "]",
            false);
      }
      byLength.computeIfAbsent(len, k -> new ArrayList<>()).add(i);
    }
    LabeledSequence[] out = new LabeledSequence[sequences.size()];
    try {
      for (List<Integer> idx : byLength.values()) {
        List<int[]> group = new ArrayList<>(idx.size());
        for (int i : idx) {
          group.add(sequences.get(i));
        }
        List<LabeledSequence> labelled = labeler.label(group);
        for (int j = 0; j < idx.size(); j++) {
          out[idx.get(j)] = labelled.get(j);
        }
      }
    } catch (IllegalArgumentException e) {
      throw new TeacherException(e.getMessage(), false, e);
    } catch (RuntimeException e) {
      throw new TeacherException("teacher forward failed: " + e.getMessage(), true, e);
    }
    return Arrays.asList(out);
  }

  @Override
  public boolean samplesRationales() {
    return true;
  }

  /** {@link RationaleSampler} on this model: n samples per prompt decoded in one batch. */
  @Override
  public synchronized List<List<Rationale>> sampleRationales(
      List<String> prompts, RationaleConfig config, Random rng) throws TeacherException {
    try {
      return new RationaleSampler(model, labeler, config).sampleAll(prompts, rng);
    } catch (IllegalArgumentException e) {
      throw new TeacherException(e.getMessage(), false, e);
    } catch (RuntimeException e) {
      throw new TeacherException("rationale sampling failed: " + e.getMessage(), true, e);
    }
  }

  @Override
  public int maxSequenceTokens() {
    return model.config().blockSize() + 1;
  }

  @Override
  public int[] encode(String text) {
    return model.tokenizer().encode(text);
  }

  @Override
  public String decode(int[] ids) {
    return model.tokenizer().decode(ids);
  }

  @Override
  public Provenance provenance() {
    return Provenance.newBuilder(provenance).build();
  }

  /** One generated (or scored) token: its id, log-probability and the top alternatives. */
  public record TokenLogprob(int id, float logprob, int[] topIds, float[] topLogprobs) {}

  /**
   * Log-probabilities at T = 1 (the model's own distribution, what vLLM and the OpenAI API report)
   * of every token of {@code tokens} after the first, each with its top {@code k} alternatives.
   */
  public synchronized List<TokenLogprob> score(int[] tokens, int k) {
    int positions = tokens.length - 1;
    List<TokenLogprob> out = new ArrayList<>(positions);
    if (positions < 1) {
      return out;
    }
    int v = model.config().vocabSize();
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray logp = model.logits(m, new int[][] {Arrays.copyOf(tokens, positions)}).logSoftmax(-1);
      float[] all = logp.toFloatArray();
      for (int p = 0; p < positions; p++) {
        out.add(pick(all, p * v, v, tokens[p + 1], k));
      }
    }
    return out;
  }

  /**
   * Samples up to {@code maxTokens} tokens after {@code prompt} at {@code temperature} (0 =
   * greedy), cropping the context to the model's block size; log-probabilities are at T = 1.
   */
  public List<TokenLogprob> generate(
      int[] prompt, int maxTokens, float temperature, int k, Random rng) {
    return generate(prompt, maxTokens, temperature, k, rng, sofar -> false);
  }

  /** As above, stopping early once {@code done} holds for the tokens generated so far. */
  public synchronized List<TokenLogprob> generate(
      int[] prompt,
      int maxTokens,
      float temperature,
      int k,
      Random rng,
      Predicate<List<TokenLogprob>> done) {
    int v = model.config().vocabSize();
    int block = model.config().blockSize();
    int[] seq = prompt.clone();
    List<TokenLogprob> out = new ArrayList<>(maxTokens);
    for (int step = 0; step < maxTokens; step++) {
      int[] ctx = Arrays.copyOfRange(seq, Math.max(0, seq.length - block), seq.length);
      float[] last;
      try (NDManager m = NDManager.newBaseManager()) {
        NDArray logits = model.logits(m, new int[][] {ctx});
        last = logits.get(":, -1, :").logSoftmax(-1).toFloatArray();
      }
      int next =
          temperature <= 0f
              ? argmax(last, v)
              : RationaleSampler.sample(last, 0, v, temperature, rng);
      out.add(pick(last, 0, v, next, k));
      seq = Arrays.copyOf(seq, seq.length + 1);
      seq[seq.length - 1] = next;
      if (done.test(out)) {
        break;
      }
    }
    return out;
  }

  private static int argmax(float[] row, int v) {
    int best = 0;
    for (int i = 1; i < v; i++) {
      if (row[i] > row[best]) {
        best = i;
      }
    }
    return best;
  }

  private static TokenLogprob pick(float[] logp, int offset, int v, int chosen, int k) {
    int kk = Math.min(k, v);
    Integer[] order = new Integer[v];
    for (int i = 0; i < v; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> Float.compare(logp[offset + b], logp[offset + a]));
    int[] ids = new int[kk];
    float[] lps = new float[kk];
    for (int j = 0; j < kk; j++) {
      ids[j] = order[j];
      lps[j] = logp[offset + order[j]];
    }
    return new TokenLogprob(chosen, logp[offset + chosen], ids, lps);
  }

  /** Closes the model: the teacher owns it. */
  @Override
  public void close() {
    model.close();
  }
}
