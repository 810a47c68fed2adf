package dev.distill.trainer.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.trainer.data.Example;
import dev.distill.trainer.data.KdBatch;
import dev.distill.trainer.loss.OnPolicyLoss;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Random;

/**
 * Mixed on-policy / offline batches (GKD, Agarwal et al. 2024, arXiv:2306.13649, algorithm 1): each
 * batch of the offline source is drawn as usual; with probability lambda ({@link
 * OnPolicyConfig#fraction()}) it is then replaced by an on-policy batch made from it:
 *
 * <ol>
 *   <li>each row's prompt is the example up to and including the first occurrence of {@link
 *       OnPolicyConfig#promptEnd()} (e.g. the {@code "=\n"} after an arithmetic problem), and the
 *       student may write {@code m = min(maxTokens, blockSize + 1 - prompt length)} tokens; a row
 *       without it is left out of the batch and counted ({@link Stats#rowsWithoutPromptEnd()}),
 *       never cut elsewhere. With an empty {@code promptEnd} (text windows) the prompt is the row
 *       without its last {@code m = min(maxTokens, positions)} tokens;
 *   <li>the student samples up to {@code m} tokens after it, all rows of the batch at once through
 *       one KV cache ({@link OnPolicySampler}: rows with shorter prompts are teacher-forced through
 *       the longer prompts' positions), at {@link OnPolicyConfig#temperature()}, a row stopping
 *       once its samples end with {@link OnPolicyConfig#stop()} (e.g. the {@code ".\n"} of an
 *       answer line) when one is set; no gradients;
 *   <li>the teacher scores every position of the sampled sequence ({@link OnPolicyTeacher}: top-k +
 *       tail at T, as offline labels), and the labels go through the offline codec ({@code
 *       topk-logq16}) so they are the values a curated record of that sequence would hold;
 *   <li>the loss is {@link OnPolicyLoss} (JSD(beta) or reverse KL, top-k + tail, times T^2) over
 *       the generated positions of each row only (up to and including the stop); their count is
 *       {@link BatchSource.Batch#tokens()} and {@link Stats#teacherTokens()}.
 * </ol>
 *
 * <p>The coin flips and the sampling use this source's own RNG (SplitMix64, one {@code long} of
 * state; an on-policy batch takes one {@code long} of it as its seed, row i sampling from {@code
 * new Random(OnPolicySampler.rowSeed(seed, i))}), seeded from the run's seed and saved in every
 * checkpoint through {@link #cursor()} (prefixed to the offline source's cursor), so a resumed run
 * draws the same batches and samples as an uninterrupted one. The offline source advances
 * identically whatever lambda is; with lambda = 0 nothing is drawn and every batch is the offline
 * one.
 */
public final class OnPolicyBatches implements BatchSource {
  private static final String PREFIX = "on-policy ";

  private final BatchSource offline;
  private final LanguageModel student;
  private final OnPolicyTeacher teacher;
  private final OnPolicyConfig config;
  private long state;
  private long batches;
  private long onPolicyBatches;
  private long generatedTokens;
  private long rowsWithoutPromptEnd;
  private long samplingNanos;
  private long teacherNanos;

  /**
   * @param offline the offline source; its batches must carry their {@link Batch#sequences()}
   * @param student the model being trained (it samples)
   * @param teacher scores the samples at the offline labels' temperature
   * @param seed seeds the coin flips and the sampling
   */
  public OnPolicyBatches(
      BatchSource offline,
      LanguageModel student,
      OnPolicyTeacher teacher,
      OnPolicyConfig config,
      long seed) {
    this.offline = Objects.requireNonNull(offline, "offline");
    this.student = Objects.requireNonNull(student, "student");
    this.teacher = Objects.requireNonNull(teacher, "teacher");
    this.config = Objects.requireNonNull(config, "config");
    this.state = seed ^ 0x6B64_5F6F_6E70_6F6CL; // "kd_onpol": apart from the data RNG's seed
  }

  @Override
  public Batch next(NDManager manager, Random rng) {
    Batch batch = offline.next(manager, rng);
    batches++;
    if (!config.enabled() || !(unit(nextLong()) < config.fraction())) {
      return batch;
    }
    List<int[]> rows = batch.sequences();
    if (rows == null) {
      throw new IllegalStateException(
          offline.getClass().getSimpleName()
              + " gives no token sequences; on-policy batches need the prompts");
    }
    long batchSeed = nextLong();
    long t0 = System.nanoTime();
    int block = student.config().blockSize();
    int[] endIds = encode(config.promptEnd());
    List<int[]> prompts = new ArrayList<>(rows.size());
    List<Integer> counts = new ArrayList<>(rows.size());
    for (int[] row : rows) {
      int promptLength;
      int count;
      if (endIds.length == 0) {
        // text windows: the row's last maxTokens tokens are the student's to write
        count = Math.min(config.maxTokens(), row.length - 1);
        promptLength = row.length - count;
      } else {
        promptLength = promptLength(row, endIds);
        // the sampled row is scored whole: at most blockSize + 1 tokens
        count = promptLength < 0 ? 0 : Math.min(config.maxTokens(), block + 1 - promptLength);
        if (count < 1) {
          rowsWithoutPromptEnd++; // no boundary, or none before the end of the context
          continue;
        }
      }
      prompts.add(Arrays.copyOf(row, promptLength));
      counts.add(count);
    }
    if (prompts.isEmpty()) {
      return batch; // no row has a prompt: the batch stays offline (counted above)
    }
    onPolicyBatches++;
    List<int[]> sampled =
        OnPolicySampler.sample(
            student,
            prompts,
            counts.stream().mapToInt(Integer::intValue).toArray(),
            config.temperature(),
            batchSeed,
            encode(config.stop()));
    long t1 = System.nanoTime();
    List<SoftLabels> labels;
    try {
      labels = teacher.score(sampled);
    } catch (IOException e) {
      throw new UncheckedIOException("the on-policy teacher failed: " + e.getMessage(), e);
    }
    long t2 = System.nanoTime();
    samplingNanos += t1 - t0;
    teacherNanos += t2 - t1;
    List<Example> examples = new ArrayList<>(sampled.size());
    for (int i = 0; i < sampled.size(); i++) {
      // through the offline codec: the values a curated record of this sequence would hold
      SoftLabels l = SoftLabelCodec.decode(SoftLabelCodec.encode(labels.get(i)));
      examples.add(new Example("on-policy-" + batches + "-" + i, sampled.get(i), l, 1f));
    }
    KdBatch kb = KdBatch.of(manager, examples);
    long t = kb.inputs().getShape().get(1);
    float[] generated = new float[Math.toIntExact(sampled.size() * t)];
    long count = 0;
    for (int i = 0; i < sampled.size(); i++) {
      // position p predicts token p + 1: generated when p + 1 >= the prompt's length
      for (int p = prompts.get(i).length - 1; p < sampled.get(i).length - 1; p++) {
        generated[Math.toIntExact(i * t + p)] = 1f;
        count++;
      }
    }
    generatedTokens += count;
    NDArray mask = manager.create(generated, new Shape(sampled.size(), t));
    float temperature = teacher.temperature();
    return Batch.of(
        kb.inputs(),
        count,
        logits ->
            OnPolicyLoss.loss(
                config.divergence(),
                logits,
                kb.topkIds(),
                kb.topkProbs(),
                kb.tail(),
                mask,
                temperature),
        sampled);
  }

  /** The offline source's cursor, prefixed with this source's RNG state. */
  @Override
  public String cursor() {
    String inner = offline.cursor();
    return PREFIX + Long.toHexString(state) + " " + (inner == null ? "-" : inner);
  }

  @Override
  public void seek(String cursor) {
    if (!cursor.startsWith(PREFIX)) {
      throw new IllegalArgumentException(
          "checkpoint data cursor '" + cursor + "' was not written by an on-policy run");
    }
    String rest = cursor.substring(PREFIX.length());
    int space = rest.indexOf(' ');
    if (space < 0) {
      throw new IllegalArgumentException("malformed on-policy cursor '" + cursor + "'");
    }
    state = Long.parseUnsignedLong(rest.substring(0, space), 16);
    String inner = rest.substring(space + 1);
    if (!inner.equals("-")) {
      offline.seek(inner);
    }
  }

  /** What on-policy batches have cost so far in this process. */
  public Stats stats() {
    return new Stats(
        batches,
        onPolicyBatches,
        generatedTokens,
        rowsWithoutPromptEnd,
        samplingNanos / 1e9,
        teacherNanos / 1e9);
  }

  /** The student tokenizer's ids of {@code text}; none for an empty text. */
  private int[] encode(String text) {
    return text.isEmpty() ? new int[0] : student.tokenizer().encode(text);
  }

  /**
   * The length of {@code row}'s prompt: up to and including the first occurrence of {@code end}
   * (matched as token ids, so {@code end} must tokenize alone as it does inside a row: true for
   * char tokenizers, and for a subword one when the text is a whole token such as a newline); -1
   * when the row does not hold it.
   */
  static int promptLength(int[] row, int[] end) {
    for (int i = 0; i + end.length <= row.length; i++) {
      if (Arrays.equals(row, i, i + end.length, end, 0, end.length)) {
        return i + end.length;
      }
    }
    return -1;
  }

  /**
   * Counters of this process (not carried across a resume).
   *
   * @param batches training batches drawn
   * @param onPolicyBatches of which on-policy
   * @param teacherTokens generated tokens the teacher scored (the positions the loss uses; with a
   *     stop, the tokens up to and including it)
   * @param rowsWithoutPromptEnd rows of on-policy draws left out because they hold no {@link
   *     OnPolicyConfig#promptEnd()} (or none with room to sample before the end of the context); a
   *     draw all of whose rows lack it stays offline and is not counted in {@code onPolicyBatches}
   * @param samplingSeconds wall time the student spent sampling
   * @param teacherSeconds wall time spent waiting for the teacher's labels
   */
  public record Stats(
      long batches,
      long onPolicyBatches,
      long teacherTokens,
      long rowsWithoutPromptEnd,
      double samplingSeconds,
      double teacherSeconds) {
    /** Teacher-scored tokens per second of waiting for the teacher; NaN before any. */
    public double teacherTokensPerSecond() {
      return teacherSeconds > 0 ? teacherTokens / teacherSeconds : Double.NaN;
    }

    /** The share of {@code stepSeconds} (the loop's wall time) spent waiting for the teacher. */
    public double teacherWaitShare(double stepSeconds) {
      return stepSeconds > 0 ? teacherSeconds / stepSeconds : Double.NaN;
    }

    /** One line for logs and summaries. */
    public String describe(double stepSeconds) {
      return String.format(
          Locale.ROOT,
          "%d of %d batches on-policy, %d teacher-scored tokens, %d rows without a prompt end"
              + " left out, %.1f teacher tokens/s, %.1f%% of step time waiting for the teacher,"
              + " %.1f%% sampling",
          onPolicyBatches,
          batches,
          teacherTokens,
          rowsWithoutPromptEnd,
          teacherTokensPerSecond(),
          100 * teacherWaitShare(stepSeconds),
          stepSeconds > 0 ? 100 * samplingSeconds / stepSeconds : Double.NaN);
    }
  }

  /** SplitMix64: the state is one long, saved in the cursor. */
  private long nextLong() {
    long z = (state += 0x9E3779B97F4A7C15L);
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  private static double unit(long bits) {
    return (bits >>> 11) * 0x1.0p-53;
  }
}
