package dev.distill.teacher.inference;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.schemas.avro.Rationale;
import dev.distill.schemas.codec.SoftLabelCodec;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;

/**
 * Samples n chain-of-thought completions per prompt from an in-process teacher, all n in one batch
 * (one forward pass per generated token), and turns each into a {@link Rationale}: its text, token
 * ids (prompt then completion), the answer extracted by the configured pattern, the mean
 * log-probability of the sampled tokens under the teacher at T = 1, and the teacher's soft labels
 * over the whole sequence, so a student can distill the rationale token by token (distilling
 * step-by-step, Hsieh et al. 2023).
 */
public final class RationaleSampler {
  private final LanguageModel teacher;
  private final SoftLabeler labeler;
  private final RationaleConfig config;

  public RationaleSampler(LanguageModel teacher, SoftLabeler labeler, RationaleConfig config) {
    this.teacher = teacher;
    this.labeler = labeler;
    this.config = config;
  }

  /** The prompt as the teacher sees it (the template applied), in token ids. */
  public int[] promptTokens(String prompt) {
    return teacher.tokenizer().encode(String.format(config.promptTemplate(), prompt));
  }

  public List<Rationale> sample(String prompt, Random rng) {
    int[] start = promptTokens(prompt);
    int n = config.samples();
    int block = teacher.config().blockSize();
    int[][] seqs = new int[n][];
    double[] logprob = new double[n];
    int[] generated = new int[n];
    boolean[] done = new boolean[n];
    for (int i = 0; i < n; i++) {
      seqs[i] = start;
    }
    StringBuilder[] texts = new StringBuilder[n];
    for (int i = 0; i < n; i++) {
      texts[i] = new StringBuilder();
    }
    int vocab = teacher.config().vocabSize();
    // Soft labels cover the whole sequence in one window, so it stays within the context.
    int budget = Math.min(config.maxTokens(), block + 1 - start.length);
    if (budget < 1) {
      throw new IllegalArgumentException(
          "prompt of " + start.length + " tokens leaves no room in a context of " + block);
    }
    for (int step = 0; step < budget; step++) {
      List<Integer> active = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        if (!done[i]) {
          active.add(i);
        }
      }
      if (active.isEmpty()) {
        break;
      }
      int[][] ctx = new int[active.size()][];
      for (int a = 0; a < active.size(); a++) {
        ctx[a] = seqs[active.get(a)];
      }
      float[] last;
      try (NDManager m = NDManager.newBaseManager()) {
        NDArray logits = teacher.logits(m, ctx);
        last = logits.get(":, -1, :").logSoftmax(-1).toFloatArray();
      }
      for (int a = 0; a < active.size(); a++) {
        int i = active.get(a);
        int next = sample(last, a * vocab, vocab, config.temperature(), rng);
        logprob[i] += last[a * vocab + next];
        generated[i]++;
        int[] grown = Arrays.copyOf(seqs[i], seqs[i].length + 1);
        grown[grown.length - 1] = next;
        seqs[i] = grown;
        texts[i].append(teacher.tokenizer().decode(new int[] {next}));
        if (config.answerPattern().matcher(texts[i]).find()) {
          done[i] = true;
        }
      }
    }
    List<Rationale> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Matcher m = config.answerPattern().matcher(texts[i]);
      String answer = m.find() ? m.group(1) : null;
      LabeledSequence labels = labeler.label(List.of(seqs[i])).get(0);
      List<Integer> ids = new ArrayList<>(seqs[i].length);
      for (int t : seqs[i]) {
        ids.add(t);
      }
      out.add(
          Rationale.newBuilder()
              .setText(texts[i].toString())
              .setTokenIds(ids)
              .setAnswer(answer)
              .setMeanLogprob(generated[i] == 0 ? 0f : (float) (logprob[i] / generated[i]))
              .setSoftLabels(ByteBuffer.wrap(SoftLabelCodec.encode(labels.labels())))
              .build());
    }
    return out;
  }

  /** Draws from softmax(logp / T) of one row of log-probabilities. */
  static int sample(float[] logp, int offset, int vocab, float temperature, Random rng) {
    double max = Double.NEGATIVE_INFINITY;
    for (int v = 0; v < vocab; v++) {
      max = Math.max(max, logp[offset + v] / temperature);
    }
    double[] w = new double[vocab];
    double sum = 0;
    for (int v = 0; v < vocab; v++) {
      w[v] = Math.exp(logp[offset + v] / temperature - max);
      sum += w[v];
    }
    double u = rng.nextDouble() * sum;
    for (int v = 0; v < vocab; v++) {
      u -= w[v];
      if (u <= 0) {
        return v;
      }
    }
    return vocab - 1;
  }
}
