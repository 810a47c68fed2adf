package dev.distill.teacher.inference;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.distill.models.tokenizer.Tokenizer;
import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.avro.Rationale;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.function.Predicate;

/**
 * What every in-process teacher does the same way, whatever runs the model ({@link LocalTeacher}:
 * our GPT; {@link TorchScriptTeacher}: a TorchScript model): sequences of any lengths labelled
 * exactly from the logits, grouped by length into forward passes ({@link SoftLabeler}), and
 * rationales sampled from the same model ({@link RationaleSampler}), and text generation with
 * per-token log-probabilities for the OpenAI-compatible endpoints ({@link TextGeneration}, through
 * the model's {@link InProcessModel#decoding()}: a KV cache for our GPT and the Hugging Face
 * families). A subclass gives the model ({@link InProcessModel}), its tokenizer and its labeler.
 */
abstract class InProcessTeacher implements Teacher, TextGeneration {
  private final String kind;

  /**
   * @param kind names the model in errors ("{@code kind} forward failed")
   */
  protected InProcessTeacher(String kind) {
    this.kind = kind;
  }

  /** The model that labels and samples. */
  protected abstract InProcessModel inProcessModel();

  /** Exact soft labels of equal-length sequences from {@link #inProcessModel()}. */
  protected abstract SoftLabeler labeler();

  /** Who labels: the identity recorded with every record (a copy is handed out). */
  protected abstract Provenance identity();

  /** A copy of {@link #identity()}, so a caller's change never reaches the teacher's records. */
  @Override
  public final Provenance provenance() {
    return Provenance.newBuilder(identity()).build();
  }

  /** The tokenizer of the model's ids. */
  @Override
  public abstract Tokenizer tokenizer();

  /** The tokenizer's EOS, where it has one; a subclass adds its model's own. */
  @Override
  public Set<Integer> endTokenIds() {
    Set<Integer> ids = new LinkedHashSet<>();
    tokenizer().specialTokens().eos().ifPresent(ids::add);
    return ids;
  }

  @Override
  public Optional<TextGeneration> textGeneration() {
    return Optional.of(this);
  }

  @Override
  public int contextTokens() {
    return inProcessModel().contextTokens();
  }

  public LabelingConfig config() {
    return labeler().config();
  }

  @Override
  public synchronized List<LabeledSequence> label(List<int[]> sequences) throws TeacherException {
    for (int i = 0; i < sequences.size(); i++) {
      int len = sequences.get(i).length;
      if (len < 2 || len > maxSequenceTokens()) {
        throw new TeacherException(
            "sequence " + i + " has " + len + " tokens, outside [2, " + maxSequenceTokens() + "]",
            false);
      }
    }
    try {
      return LengthGroups.map(sequences, labeler()::label);
    } catch (IllegalArgumentException e) {
      throw new TeacherException(e.getMessage(), false, e);
    } catch (RuntimeException e) {
      throw new TeacherException(kind + " forward failed: " + e.getMessage(), true, e);
    }
  }

  @Override
  public int maxSequenceTokens() {
    return inProcessModel().contextTokens() + 1;
  }

  @Override
  public int[] encode(String text) {
    return inProcessModel().encode(text);
  }

  @Override
  public String decode(int[] ids) {
    return inProcessModel().decode(ids);
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
      return new RationaleSampler(inProcessModel(), labeler(), config).sampleAll(prompts, rng);
    } catch (IllegalArgumentException e) {
      throw new TeacherException(e.getMessage(), false, e);
    } catch (RuntimeException e) {
      throw new TeacherException("rationale sampling failed: " + e.getMessage(), true, e);
    }
  }

  @Override
  public synchronized List<TokenLogprob> score(int[] tokens, int k) {
    int positions = tokens.length - 1;
    List<TokenLogprob> out = new ArrayList<>(Math.max(positions, 0));
    if (positions < 1) {
      return out;
    }
    InProcessModel model = inProcessModel();
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

  @Override
  public synchronized List<TokenLogprob> generate(
      int[] prompt,
      int maxTokens,
      float temperature,
      int k,
      Random rng,
      Predicate<List<TokenLogprob>> stopAfter) {
    InProcessModel model = inProcessModel();
    int v = model.vocabSize();
    int block = model.contextTokens();
    Set<Integer> end = endTokenIds();
    int[] seq = prompt.clone();
    List<TokenLogprob> out = new ArrayList<>(Math.max(maxTokens, 0));
    // our GPT and the HF families: a KV cache, the prompt once, then one position per token
    try (InProcessModel.Decoding decoding = model.decoding()) {
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
        if (stopAfter.test(out) || end.contains(next)) {
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

  /**
   * The chosen token and the {@code k} most likely ids of a log-probability row, best first (ties:
   * lower id first); a partial selection, O(V k), as k is small and V may be 150k.
   */
  private static TokenLogprob pick(float[] logp, int offset, int v, int chosen, int k) {
    int kk = Math.min(k, v);
    int[] ids = new int[kk];
    float[] lps = new float[kk];
    int n = 0;
    for (int i = 0; i < v && kk > 0; i++) {
      float x = logp[offset + i];
      if (n == kk && !(x > lps[kk - 1])) {
        continue;
      }
      int j = n < kk ? n++ : kk - 1;
      while (j > 0 && x > lps[j - 1]) {
        ids[j] = ids[j - 1];
        lps[j] = lps[j - 1];
        j--;
      }
      ids[j] = i;
      lps[j] = x;
    }
    return new TokenLogprob(chosen, logp[offset + chosen], ids, lps);
  }
}
