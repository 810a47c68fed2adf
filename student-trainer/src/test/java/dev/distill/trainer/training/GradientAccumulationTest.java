package dev.distill.trainer.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.util.Pair;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GradientAccumulationTest {
  private static final String TEXT = "to be or not to be, that is the question. ".repeat(20);
  private static final int BLOCK = 16;

  /**
   * The same windows, in the same order, whatever the batch size: a batch of n takes the next n
   * windows, so 2 micro-batches of B see exactly the sequences of one batch of 2B.
   */
  private static final class InOrderWindows implements BatchSource {
    private final int[] tokens;
    private final int batchSize;
    private int next;

    InOrderWindows(int[] tokens, int batchSize) {
      this.tokens = tokens;
      this.batchSize = batchSize;
    }

    @Override
    public Batch next(NDManager manager, Random rng) {
      return TextWindows.windows(
          manager, tokens, BLOCK, batchSize, b -> (next++ * 7) % (tokens.length - BLOCK - 1));
    }
  }

  private static List<float[]> trainedParameters(int batch, int accumulation, long[] tokens) {
    return trainedParameters(batch, accumulation, 1, 0f, tokens);
  }

  private static List<float[]> trainedParameters(
      int batch, int accumulation, int concurrent, float dropout, long[] tokens) {
    CharTokenizer tok = CharTokenizer.fromCorpus(TEXT);
    int[] ids = tok.encode(TEXT);
    TrainConfig tc =
        TrainConfig.builder(4, batch, 3e-3f)
            .warmupSteps(1)
            .weightDecay(0.01f)
            .seed(7)
            .accumulationSteps(accumulation)
            .concurrentMicroBatches(concurrent)
            .build();
    try (LanguageModel lm =
        LanguageModel.create(new GptConfig(tok.vocabSize(), BLOCK, 1, 2, 32, dropout), tok, 7)) {
      TrainResult r =
          TrainingLoop.run(
              lm,
              new InOrderWindows(ids, batch),
              new InOrderWindows(ids, 2),
              tc,
              (step, total, loss, val, tps) -> {});
      tokens[0] = Math.round(r.tokensPerSecond() * r.seconds());
      List<float[]> out = new ArrayList<>();
      for (Pair<String, Parameter> p : lm.block().getParameters()) {
        out.add(p.getValue().getArray().toFloatArray());
      }
      return out;
    }
  }

  private static double maxDiff(List<float[]> a, List<float[]> b) {
    double d = 0;
    for (int i = 0; i < a.size(); i++) {
      for (int j = 0; j < a.get(i).length; j++) {
        d = Math.max(d, Math.abs(a.get(i)[j] - b.get(i)[j]));
      }
    }
    return d;
  }

  @Test
  void twoMicroBatchesOfBGiveTheParametersOfOneBatchOf2B() {
    long[] accumulatedTokens = new long[1];
    long[] wholeTokens = new long[1];
    List<float[]> accumulated = trainedParameters(4, 2, accumulatedTokens);
    List<float[]> whole = trainedParameters(8, 1, wholeTokens);
    assertThat(accumulated).hasSameSizeAs(whole);
    double maxDiff = maxDiff(accumulated, whole);
    // 4 AdamW steps at lr 3e-3 move parameters by about 1e-2; summation order alone differs.
    assertThat(maxDiff).isLessThan(1e-5);
    // Every micro-batch's tokens are counted: 4 steps x 8 sequences x 16 positions either way.
    assertThat(accumulatedTokens[0]).isEqualTo(4L * 8 * BLOCK);
    assertThat(wholeTokens[0]).isEqualTo(4L * 8 * BLOCK);
  }

  @Test
  void twoConcurrentMicroBatchesGiveBitForBitTheParametersOfSequentialAccumulationOnOneThread() {
    // Each lane runs on one intra-op thread, so the reference is sequential accumulation on one
    // thread (a product's rounding may depend on the thread count). The lanes add into the same
    // .grad in either order: g_a + g_b == g_b + g_a exactly.
    int threads = JniUtils.getNumThreads();
    List<float[]> sequential;
    JniUtils.setNumThreads(1);
    try {
      sequential = trainedParameters(4, 2, 1, 0f, new long[1]);
    } finally {
      JniUtils.setNumThreads(threads);
    }
    long[] tokens = new long[1];
    List<float[]> concurrent = trainedParameters(4, 2, 2, 0f, tokens);
    assertThat(JniUtils.getNumThreads()).as("the caller's threads come back").isEqualTo(threads);
    assertThat(concurrent).hasSameSizeAs(sequential);
    for (int i = 0; i < sequential.size(); i++) {
      assertThat(concurrent.get(i)).as("parameter %d", i).containsExactly(sequential.get(i));
    }
    assertThat(tokens[0]).isEqualTo(4L * 8 * BLOCK);
    // and what the lanes compute matters: one micro-batch alone ends elsewhere
    List<float[]> alone = trainedParameters(4, 1, 1, 0f, new long[1]);
    double maxDiff = maxDiff(alone, concurrent);
    assertThat(maxDiff).isGreaterThan(1e-4);
  }

  @Test
  void concurrentMicroBatchesAreRefusedWithDropoutAndMustDivideTheAccumulation() {
    assertThatThrownBy(() -> trainedParameters(4, 2, 2, 0.1f, new long[1]))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("train.concurrent-micro-batches=2")
        .hasMessageContaining("dropout");
    assertThatThrownBy(() -> trainedParameters(4, 2, 3, 0f, new long[1]))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("concurrentMicroBatches must be >= 1 and divide accumulationSteps");
  }

  @Test
  void oneMicroBatchOfBAloneEndsElsewhere() {
    // Guards the test above: one micro-batch of B alone (no accumulation) ends elsewhere, so the
    // equality there is not a property of any two runs.
    List<float[]> small = trainedParameters(4, 1, new long[1]);
    List<float[]> whole = trainedParameters(8, 1, new long[1]);
    double maxDiff = maxDiff(small, whole);
    assertThat(maxDiff).isGreaterThan(1e-4);
  }

  @Test
  void aRunWithAccumulationResumedFromACheckpointEndsAsTheUninterruptedRun(@TempDir Path tmp) {
    // rng-drawn windows: the checkpointed RNG must be where it is after k draws per step.
    CharTokenizer tok = CharTokenizer.fromCorpus(TEXT);
    int[] ids = tok.encode(TEXT);
    TrainConfig tc =
        TrainConfig.builder(6, 2, 3e-3f)
            .warmupSteps(1)
            .weightDecay(0.01f)
            .seed(9)
            .accumulationSteps(3)
            .build();
    java.util.function.BiFunction<Checkpointing, Integer, List<float[]>> train =
        (checkpointing, killAfter) -> {
          try (LanguageModel lm =
              LanguageModel.create(new GptConfig(tok.vocabSize(), BLOCK, 1, 2, 32, 0f), tok, 9)) {
            try {
              TrainingLoop.run(
                  lm,
                  new TextWindows(ids, BLOCK, 2),
                  new TextWindows(ids, BLOCK, 2),
                  tc,
                  (step, total, loss, val, tps) -> {
                    if (step == killAfter) {
                      throw new IllegalStateException("killed");
                    }
                  },
                  checkpointing);
            } catch (IllegalStateException e) {
              assertThat(e).hasMessage("killed");
            }
            List<float[]> out = new ArrayList<>();
            for (Pair<String, Parameter> p : lm.block().getParameters()) {
              out.add(p.getValue().getArray().toFloatArray());
            }
            return out;
          }
        };
    List<float[]> whole = train.apply(Checkpointing.none(), -1);
    Path dir = tmp.resolve("ckpt");
    train.apply(new Checkpointing(dir, 2, 2, false, Map.of()), 3);
    List<float[]> resumed = train.apply(new Checkpointing(dir, 2, 2, true, Map.of()), -1);
    assertThat(resumed).hasSameSizeAs(whole);
    for (int i = 0; i < whole.size(); i++) {
      assertThat(resumed.get(i)).containsExactly(whole.get(i));
    }
  }

  @Test
  void accumulationStepsBelowOneAreRefused() {
    TrainConfig tc =
        TrainConfig.builder(4, 4, 3e-3f).warmupSteps(1).weightDecay(0.01f).seed(7).build();
    assertThatThrownBy(() -> tc.toBuilder().accumulationSteps(0).build())
        .hasMessageContaining("accumulationSteps");
    assertThat(tc.toBuilder().accumulationSteps(3).build().describe())
        .containsEntry("accumulationSteps", "3");
  }
}
