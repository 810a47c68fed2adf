package dev.distill.teacher.inference;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.schemas.avro.Provenance;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Predicate;

/**
 * An in-process DJL teacher on our GPT: exact soft labels and rationales as every {@link
 * InProcessTeacher}, and generation with per-token log-probabilities for the OpenAI-compatible
 * {@code /v1/completions}.
 */
public final class LocalTeacher extends InProcessTeacher {
  private final LanguageModel model;
  private final InProcessModel gpt;
  private final SoftLabeler labeler;
  private final Provenance provenance;

  public LocalTeacher(String teacherId, LanguageModel model, LabelingConfig config) {
    super("teacher");
    this.model = model;
    this.gpt = InProcessModel.of(model);
    this.labeler = new SoftLabeler(gpt, config);
    this.provenance = TeacherIdentity.provenance(teacherId, model, config);
  }

  public LanguageModel model() {
    return model;
  }

  @Override
  protected SoftLabeler labeler() {
    return labeler;
  }

  @Override
  protected InProcessModel inProcessModel() {
    return gpt;
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
    int v = model.vocabSize();
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
    int v = model.vocabSize();
    int block = model.config().blockSize();
    int[] seq = prompt.clone();
    List<TokenLogprob> out = new ArrayList<>(maxTokens);
    // a KV cache: the prompt once, then one position per token (past the block, the window again)
    try (InProcessModel.Decoding decoding = gpt.decoding()) {
      for (int step = 0; step < maxTokens; step++) {
        int[] ctx = Arrays.copyOfRange(seq, Math.max(0, seq.length - block), seq.length);
        float[] last = decoding.nextTokenLogprobs(new int[][] {ctx});
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
