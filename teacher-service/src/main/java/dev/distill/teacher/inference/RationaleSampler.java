package dev.distill.teacher.inference;

import dev.distill.models.gpt.LanguageModel;
import dev.distill.schemas.avro.Rationale;
import dev.distill.schemas.codec.SoftLabelCodec;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
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
  private final InProcessModel teacher;
  private final SoftLabeler labeler;
  private final RationaleConfig config;

  public RationaleSampler(LanguageModel teacher, SoftLabeler labeler, RationaleConfig config) {
    this(InProcessModel.of(teacher), labeler, config);
  }

  /**
   * @param labeler exact soft labels from {@code teacher}'s logits
   */
  public RationaleSampler(InProcessModel teacher, SoftLabeler labeler, RationaleConfig config) {
    this.teacher = teacher;
    this.labeler = labeler;
    this.config = config;
  }

  /** The prompt as the teacher sees it (the template applied), in token ids. */
  public int[] promptTokens(String prompt) {
    return teacher.encode(String.format(config.promptTemplate(), prompt));
  }

  public List<Rationale> sample(String prompt, Random rng) {
    return sampleAll(List.of(prompt), rng).get(0);
  }

  /**
   * Samples n rationales for each prompt. Prompts of equal token length are decoded together in one
   * batch (n per prompt), one forward pass per generated token for the whole group.
   */
  public List<List<Rationale>> sampleAll(List<String> prompts, Random rng) {
    int n = config.samples();
    int block = teacher.contextTokens();
    int[][] starts = new int[prompts.size()][];
    Map<Integer, List<Integer>> byLength = new TreeMap<>();
    for (int p = 0; p < prompts.size(); p++) {
      starts[p] = promptTokens(prompts.get(p));
      if (starts[p].length >= block + 1) {
        throw new IllegalArgumentException(
            "prompt of " + starts[p].length + " tokens leaves no room in a context of " + block);
      }
      byLength.computeIfAbsent(starts[p].length, k -> new ArrayList<>()).add(p);
    }
    int total = prompts.size() * n;
    int[][] seqs = new int[total][];
    double[] logprob = new double[total];
    int[] generated = new int[total];
    StringBuilder[] texts = new StringBuilder[total];
    for (List<Integer> group : byLength.values()) {
      decodeGroup(group, starts, seqs, logprob, generated, texts, rng);
    }
    // Soft labels of every sequence, batched by length.
    List<LabeledSequence> labels = LengthGroups.map(Arrays.asList(seqs), labeler::label);
    List<List<Rationale>> out = new ArrayList<>(prompts.size());
    for (int p = 0; p < prompts.size(); p++) {
      List<Rationale> rs = new ArrayList<>(n);
      for (int k = 0; k < n; k++) {
        int i = p * n + k;
        Matcher m = config.answerPattern().matcher(texts[i]);
        String answer = m.find() ? m.group(1) : null;
        List<Integer> ids = new ArrayList<>(seqs[i].length);
        for (int t : seqs[i]) {
          ids.add(t);
        }
        rs.add(
            Rationale.newBuilder()
                .setText(texts[i].toString())
                .setTokenIds(ids)
                .setAnswer(answer)
                .setMeanLogprob(generated[i] == 0 ? 0f : (float) (logprob[i] / generated[i]))
                .setSoftLabels(ByteBuffer.wrap(SoftLabelCodec.encode(labels.get(i).labels())))
                .build());
      }
      out.add(rs);
    }
    return out;
  }

  /** Decodes n samples of each prompt in {@code group} (all of one token length) in lockstep. */
  private void decodeGroup(
      List<Integer> group,
      int[][] starts,
      int[][] seqs,
      double[] logprob,
      int[] generated,
      StringBuilder[] texts,
      Random rng) {
    int n = config.samples();
    int vocab = teacher.vocabSize();
    int startLength = starts[group.get(0)].length;
    List<Integer> active = new ArrayList<>();
    for (int p : group) {
      for (int k = 0; k < n; k++) {
        int i = p * n + k;
        seqs[i] = starts[p];
        texts[i] = new StringBuilder();
        active.add(i);
      }
    }
    // Soft labels cover the whole sequence in one window, so it stays within the context.
    int budget = Math.min(config.maxTokens(), teacher.contextTokens() + 1 - startLength);
    // a KV cache for our GPT: the prompts once, then one position per token
    try (InProcessModel.Decoding decoding = teacher.decoding()) {
      for (int step = 0; step < budget && !active.isEmpty(); step++) {
        int[][] ctx = new int[active.size()][];
        for (int a = 0; a < active.size(); a++) {
          ctx[a] = seqs[active.get(a)];
        }
        float[] last = decoding.nextTokenLogprobs(ctx);
        List<Integer> still = new ArrayList<>(active.size());
        for (int a = 0; a < active.size(); a++) {
          int i = active.get(a);
          int next = sample(last, a * vocab, vocab, config.temperature(), rng);
          logprob[i] += last[a * vocab + next];
          generated[i]++;
          int[] grown = Arrays.copyOf(seqs[i], seqs[i].length + 1);
          grown[grown.length - 1] = next;
          seqs[i] = grown;
          texts[i].append(teacher.decode(new int[] {next}));
          if (!config.answerPattern().matcher(texts[i]).find()) {
            still.add(i);
          }
        }
        active = still;
      }
    }
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
