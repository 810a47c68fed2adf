package dev.distill.trainer.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.labels.TopKTail;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.trainer.data.Example;
import dev.distill.trainer.loss.DistillationLoss;
import dev.distill.trainer.loss.Divergence;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * On-policy batches with real tiny GPTs (student and teacher share a char tokenizer): lambda = 0
 * leaves training bit for bit unchanged, an on-policy batch holds the student's samples after the
 * examples' prompts with the teacher's labels, and a stopped and resumed run at lambda = 0.5 ends
 * with the uninterrupted run's parameters.
 */
class OnPolicyBatchesTest {
  private static final String TEXT =
      "to be or not to be, that is the question: whether 'tis nobler in the mind. ".repeat(8);
  private static final int BLOCK = 16;
  private static final float T = 2f;
  private static final int K = 3;

  static CharTokenizer tok;
  static LanguageModel teacher;
  static List<Example> examples;

  @TempDir Path tmp;

  @BeforeAll
  static void teacherAndExamples() throws Exception {
    tok = CharTokenizer.fromCorpus(TEXT);
    teacher = LanguageModel.create(new GptConfig(tok.vocabSize(), BLOCK, 1, 2, 32, 0f), tok, 9);
    int[] ids = tok.encode(TEXT);
    List<int[]> windows = new ArrayList<>();
    for (int s = 0; s + BLOCK + 1 <= ids.length && windows.size() < 24; s += 11) {
      windows.add(Arrays.copyOfRange(ids, s, s + BLOCK + 1));
    }
    List<SoftLabels> labels = new LocalOnPolicyTeacher(teacher, tok, T, K).score(windows);
    examples = new ArrayList<>();
    for (int i = 0; i < windows.size(); i++) {
      SoftLabels l = SoftLabelCodec.decode(SoftLabelCodec.encode(labels.get(i)));
      examples.add(new Example("w" + i, windows.get(i), l, 1f));
    }
  }

  @AfterAll
  static void close() {
    teacher.close();
  }

  static LanguageModel student() {
    return LanguageModel.create(new GptConfig(tok.vocabSize(), BLOCK, 1, 2, 32, 0f), tok, 3);
  }

  static DistillationLoss offlineLoss() {
    return new DistillationLoss(0.5f, T);
  }

  static TrainConfig config(int steps) {
    return TrainConfig.builder(steps, 4, 3e-3f).warmupSteps(1).weightDecay(0.01f).seed(7).build();
  }

  static List<float[]> parameters(LanguageModel lm) {
    List<float[]> out = new ArrayList<>();
    for (Pair<String, Parameter> p : lm.block().getParameters()) {
      out.add(p.getValue().getArray().toFloatArray());
    }
    return out;
  }

  record Run(List<float[]> params, List<Float> losses, OnPolicyBatches.Stats stats) {}

  static Run train(
      OnPolicyConfig op, int steps, Checkpointing checkpointing, int stopAfter, boolean wrap) {
    try (LanguageModel lm = student()) {
      BatchSource offline = new SoftLabelBatches(examples, 4, offlineLoss());
      OnPolicyBatches onPolicy =
          new OnPolicyBatches(offline, lm, new LocalOnPolicyTeacher(teacher, tok, T, K), op, 7);
      List<Float> losses = new ArrayList<>();
      try {
        TrainingLoop.run(
            lm,
            wrap ? onPolicy : offline,
            new SoftLabelBatches(examples, 4, offlineLoss()),
            config(steps),
            (step, total, l, v, tps) -> {
              losses.add((float) l);
              if (step == stopAfter) {
                throw new IllegalStateException("stopped");
              }
            },
            checkpointing);
      } catch (IllegalStateException e) {
        assertThat(e).hasMessage("stopped");
      }
      return new Run(parameters(lm), losses, onPolicy.stats());
    }
  }

  @Test
  void lambdaZeroTrainsBitForBitAsWithoutOnPolicy() {
    OnPolicyConfig off = OnPolicyConfig.of(0f, 1f, 4, "jsd", 0.5f);
    Run plain = train(off, 4, Checkpointing.none(), -1, false);
    Run wrapped = train(off, 4, Checkpointing.none(), -1, true);
    assertThat(wrapped.losses()).isEqualTo(plain.losses());
    for (int i = 0; i < plain.params().size(); i++) {
      assertThat(wrapped.params().get(i)).isEqualTo(plain.params().get(i));
    }
    assertThat(wrapped.stats().onPolicyBatches()).isZero();
    assertThat(wrapped.stats().batches()).isEqualTo(4);
  }

  @Test
  void anOnPolicyBatchHoldsTheStudentsSamplesAfterThePromptsScoredByTheTeacher() {
    OnPolicyConfig all = OnPolicyConfig.of(1f, 1f, 5, "reverse_kl", 0f);
    try (LanguageModel lm = student();
        NDManager m = NDManager.newBaseManager()) {
      BatchSource offline = new SoftLabelBatches(examples, 4, offlineLoss());
      LocalOnPolicyTeacher lt = new LocalOnPolicyTeacher(teacher, tok, T, K);
      OnPolicyBatches src = new OnPolicyBatches(offline, lm, lt, all, 11);
      BatchSource.Batch b = src.next(m, new Random(1));
      List<int[]> prompts = offline.next(m, new Random(1)).sequences();
      List<int[]> sampled = b.sequences();
      assertThat(b.tokens()).isEqualTo(4 * 5); // only the generated positions are scored
      boolean anyNew = false;
      for (int i = 0; i < 4; i++) {
        int[] p = prompts.get(i);
        int[] s = sampled.get(i);
        assertThat(s).hasSameSizeAs(p);
        assertThat(Arrays.copyOf(s, p.length - 5)).isEqualTo(Arrays.copyOf(p, p.length - 5));
        anyNew |= !Arrays.equals(s, p);
      }
      assertThat(anyNew).as("a random student does not reproduce the text").isTrue();
      // the loss is finite and positive, and its labels are the teacher's TopKTail of the samples
      NDArray logits = lm.logits(m, new int[][] {Arrays.copyOf(sampled.get(0), BLOCK)});
      assertThat(logits.getShape().get(1)).isEqualTo(BLOCK);
      SoftLabels direct = lt.score(List.of(sampled.get(0))).get(0);
      TopKTail top =
          TopKTail.of(teacher.logits(m, new int[][] {Arrays.copyOf(sampled.get(0), BLOCK)}), T, K);
      assertThat(direct.ids()).isEqualTo(top.rowIds(0));
      assertThat(direct.tails()).isEqualTo(top.rowTails(0));
      NDArray all4 =
          lm.logits(
              m, sampled.stream().map(s -> Arrays.copyOf(s, BLOCK)).toList().toArray(int[][]::new));
      float loss = b.loss(all4).getFloat();
      assertThat(loss).isFinite().isGreaterThan(0f);
    }
  }

  /** The inner source's batches with {@code rows} as their sequences (the prompts' source). */
  record FixedRows(BatchSource inner, List<int[]> rows) implements BatchSource {
    @Override
    public Batch next(NDManager manager, Random rng) {
      Batch b = inner.next(manager, rng);
      return Batch.of(b.inputs(), b.tokens(), b::loss, rows);
    }
  }

  @Test
  void aPromptEndMakesThePromptTheRowUpToItAndRowsWithoutItAreLeftOutAndCounted() {
    // rows with ':' early enough to leave room, and rows without ':'
    int colon = tok.encode(":")[0];
    List<int[]> with = new ArrayList<>();
    List<int[]> without = new ArrayList<>();
    for (Example e : examples) {
      int at = indexOf(e.tokens(), colon);
      if (at >= 2 && at <= 10 && with.size() < 2) {
        with.add(e.tokens());
      } else if (at < 0 && without.size() < 2) {
        without.add(e.tokens());
      }
    }
    assertThat(with).hasSize(2);
    assertThat(without).hasSize(2);
    List<int[]> rows = List.of(without.get(0), with.get(0), without.get(1), with.get(1));
    // stop at 'e': a row may end before its 5 tokens, and only its real tokens count
    OnPolicyConfig cfg = OnPolicyConfig.of(1f, 1f, 5, "jsd", 0.5f, ":", "e");
    try (LanguageModel lm = student();
        NDManager m = NDManager.newBaseManager()) {
      BatchSource offline = new FixedRows(new SoftLabelBatches(examples, 4, offlineLoss()), rows);
      OnPolicyBatches src =
          new OnPolicyBatches(offline, lm, new LocalOnPolicyTeacher(teacher, tok, T, K), cfg, 5);
      BatchSource.Batch b = src.next(m, new Random(1));
      List<int[]> sampled = b.sequences();
      assertThat(sampled).hasSize(2);
      long generated = 0;
      for (int i = 0; i < 2; i++) {
        int promptLength = indexOf(with.get(i), colon) + 1;
        int[] s = sampled.get(i);
        // the prompt is exactly the row up to and including ':', never cut elsewhere
        assertThat(Arrays.copyOf(s, promptLength))
            .isEqualTo(Arrays.copyOf(with.get(i), promptLength));
        assertThat(s.length).isBetween(promptLength + 1, promptLength + 5);
        if (s.length < promptLength + 5) {
          assertThat(s[s.length - 1]).isEqualTo(tok.encode("e")[0]);
        }
        generated += s.length - promptLength;
      }
      assertThat(b.tokens()).isEqualTo(generated);
      OnPolicyBatches.Stats st = src.stats();
      assertThat(st.teacherTokens()).isEqualTo(generated);
      assertThat(st.rowsWithoutPromptEnd()).isEqualTo(2);
      assertThat(st.onPolicyBatches()).isEqualTo(1);
      int width = Math.toIntExact(b.inputs().getShape().get(1));
      NDArray logits =
          lm.logits(m, sampled.stream().map(x -> Arrays.copyOf(x, width)).toArray(int[][]::new));
      assertThat(b.loss(logits).getFloat()).isFinite().isGreaterThan(0f);
      // a batch none of whose rows holds the prompt end stays the offline batch
      OnPolicyBatches none =
          new OnPolicyBatches(
              new FixedRows(new SoftLabelBatches(examples, 4, offlineLoss()), without),
              lm,
              new LocalOnPolicyTeacher(teacher, tok, T, K),
              cfg,
              5);
      assertThat(none.next(m, new Random(1)).sequences()).isEqualTo(without);
      assertThat(none.stats().onPolicyBatches()).isZero();
      assertThat(none.stats().rowsWithoutPromptEnd()).isEqualTo(2);
    }
  }

  private static int indexOf(int[] row, int id) {
    for (int i = 0; i < row.length; i++) {
      if (row[i] == id) {
        return i;
      }
    }
    return -1;
  }

  @Test
  void aResumedRunAtLambdaHalfEndsWithTheUninterruptedRunsParameters() {
    OnPolicyConfig half = OnPolicyConfig.of(0.5f, 1f, 6, "jsd", 0.5f);
    Run straight = train(half, 6, Checkpointing.none(), -1, true);
    assertThat(straight.stats().onPolicyBatches()).isBetween(1L, 5L);
    Path dir = tmp.resolve("ckpt");
    Run first = train(half, 6, new Checkpointing(dir, 2, 2, false, Map.of()), 3, true);
    assertThat(first.losses()).hasSize(3);
    Run resumed = train(half, 6, new Checkpointing(dir, 2, 2, true, Map.of()), -1, true);
    // resumed from the step-2 checkpoint: steps 3..6 replayed
    assertThat(resumed.losses()).hasSize(4);
    assertThat(resumed.losses()).isEqualTo(straight.losses().subList(2, 6));
    for (int i = 0; i < straight.params().size(); i++) {
      float[] a = straight.params().get(i);
      float[] b = resumed.params().get(i);
      for (int j = 0; j < a.length; j++) {
        assertThat(b[j]).isCloseTo(a[j], within(1e-6f));
      }
    }
  }

  @Test
  void refusesATeacherWithAnotherTokenizer() {
    CharTokenizer other = CharTokenizer.fromCorpus("abcdefghijklmnopqrstuvwxyz ,.");
    assertThatThrownBy(() -> new LocalOnPolicyTeacher(teacher, other, T, K))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("differs from the teacher's");
  }

  @Test
  void configRejectsOutOfRangeValuesNamingTheKey() {
    assertThatThrownBy(() -> OnPolicyConfig.of(1.5f, 1f, 4, "jsd", 0.5f))
        .hasMessageContaining("train.on-policy-fraction");
    assertThatThrownBy(() -> OnPolicyConfig.of(0.5f, -1f, 4, "jsd", 0.5f))
        .hasMessageContaining("train.on-policy-temperature");
    assertThatThrownBy(() -> OnPolicyConfig.of(0.5f, 1f, 0, "jsd", 0.5f))
        .hasMessageContaining("train.on-policy-max-tokens");
    assertThatThrownBy(() -> OnPolicyConfig.of(0.5f, 1f, 4, "jsd", 2f))
        .hasMessageContaining("train.on-policy-beta");
    assertThatThrownBy(() -> OnPolicyConfig.of(0.5f, 1f, 4, "forward_kl", 0f))
        .hasMessageContaining("train.on-policy-divergence");
    assertThat(OnPolicyConfig.of(0.5f, 1f, 4, "jsd", 0.9f).divergence())
        .isEqualTo(Divergence.jsd(0.9f));
    // config text: escapes for what a trimmed value cannot hold
    OnPolicyConfig escaped = OnPolicyConfig.of(0.5f, 1f, 4, "jsd", 0.5f, "=\\n", ".\\n\\t\\\\");
    assertThat(escaped.promptEnd()).isEqualTo("=\n");
    assertThat(escaped.stop()).isEqualTo(".\n\t\\");
    assertThat(escaped.describe()).containsEntry("onPolicy.promptEnd", "=\\n");
    assertThatThrownBy(() -> OnPolicyConfig.of(0.5f, 1f, 4, "jsd", 0.5f, "=\\x", ""))
        .hasMessageContaining("train.on-policy-prompt-end");
    assertThatThrownBy(() -> OnPolicyConfig.of(0.5f, 1f, 4, "jsd", 0.5f, "", "a\\"))
        .hasMessageContaining("train.on-policy-stop");
  }
}
