package dev.distill.trainer.training;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class TrainingLoopTest {
  private static final String TEXT = "to be or not to be, that is the question. ".repeat(40);

  private static TrainResult train(long seed, List<Double> losses) {
    CharTokenizer tok = CharTokenizer.fromCorpus(TEXT);
    int[] ids = tok.encode(TEXT);
    TrainConfig tc =
        TrainConfig.builder(80, 8, 3e-3f).warmupSteps(5).evaluation(40, 2).seed(seed).build();
    try (LanguageModel lm =
        LanguageModel.create(new GptConfig(tok.vocabSize(), 16, 1, 2, 32, 0f), tok, seed)) {
      return TrainingLoop.run(
          lm,
          new TextWindows(ids, 16, 8),
          new TextWindows(ids, 16, 8),
          tc,
          (step, total, loss, val, tps) -> losses.add(loss));
    }
  }

  @Test
  void languageModelLossFallsWellBelowTheUniformBaseline() {
    List<Double> losses = new ArrayList<>();
    TrainResult r = train(1, losses);
    double uniform = Math.log(CharTokenizer.fromCorpus(TEXT).vocabSize());
    assertThat(losses).hasSize(80);
    assertThat(losses.get(0)).isGreaterThan(uniform * 0.8);
    assertThat(r.finalValLoss()).isLessThan(uniform * 0.5);
    assertThat(r.curve()).extracting(TrainResult.CurvePoint::step).containsExactly(40, 80);
    assertThat(r.tokensPerSecond()).isPositive();
  }

  /** Trains {@code seed}'s model on a new thread with one libtorch intra-op thread. */
  private static Thread onOneEngineThread(
      long seed, List<Double> losses, List<Throwable> failures, Runnable ready) {
    return new Thread(
        () -> {
          ai.djl.pytorch.jni.JniUtils.setNumThreads(1);
          try {
            ready.run();
            train(seed, losses);
          } catch (Throwable t) {
            failures.add(t);
          }
        });
  }

  @Test
  void twoModelsTrainOnTwoThreadsAtOnceWithTheLossesEachHasAlone() throws Exception {
    // DJL's PtGradientCollector allows one per JVM; TrainingStep does without it (issue 13: the
    // demo trains a workload's two students at the same time). One engine thread each, so the
    // arithmetic is the same alone and side by side.
    int callerThreads = ai.djl.pytorch.jni.JniUtils.getNumThreads();
    List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
    List<Double> aloneA = new ArrayList<>();
    List<Double> aloneB = new ArrayList<>();
    for (Thread t :
        List.of(
            onOneEngineThread(5, aloneA, failures, () -> {}),
            onOneEngineThread(6, aloneB, failures, () -> {}))) {
      t.start();
      t.join();
    }
    java.util.concurrent.CountDownLatch both = new java.util.concurrent.CountDownLatch(2);
    Runnable ready =
        () -> {
          both.countDown();
          try {
            both.await();
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
        };
    List<Double> togetherA = new ArrayList<>();
    List<Double> togetherB = new ArrayList<>();
    Thread a = onOneEngineThread(5, togetherA, failures, ready);
    Thread b = onOneEngineThread(6, togetherB, failures, ready);
    a.start();
    b.start();
    a.join();
    b.join();
    ai.djl.pytorch.jni.JniUtils.setNumThreads(callerThreads);

    assertThat(failures).isEmpty();
    assertThat(aloneA).hasSize(80).isNotEqualTo(aloneB);
    assertThat(togetherA).isEqualTo(aloneA);
    assertThat(togetherB).isEqualTo(aloneB);
  }

  @Test
  void sameSeedGivesTheSameLosses() {
    List<Double> a = new ArrayList<>();
    List<Double> b = new ArrayList<>();
    train(3, a);
    train(3, b);
    assertThat(a).isEqualTo(b);
  }

  @Test
  void aStepWithANonFiniteLossOrGradientIsSkippedAndTrainingGoesOn() {
    CharTokenizer tok = CharTokenizer.fromCorpus(TEXT);
    int[] ids = tok.encode(TEXT);
    TrainConfig tc = TrainConfig.builder(20, 4, 3e-3f).warmupSteps(2).seed(1).build();
    // Step 3: a NaN loss. Step 5: a finite loss (0) whose gradient is NaN (d sqrt(x)/dx at 0
    // times 0). Either would make every parameter NaN if the optimiser stepped on it.
    Regularizer bad =
        (model, manager, step) -> {
          if (step == 2) {
            return manager.create(Float.NaN);
          }
          if (step == 4) {
            ai.djl.ndarray.NDArray w = model.block().getParameters().get(0).getValue().getArray();
            return w.sub(w).sqrt().sum();
          }
          return manager.create(0f);
        };
    List<Integer> steps = new ArrayList<>();
    try (LanguageModel lm =
        LanguageModel.create(new GptConfig(tok.vocabSize(), 16, 1, 2, 32, 0f), tok, 1)) {
      TrainResult r =
          TrainingLoop.run(
              lm,
              new TextWindows(ids, 16, 4),
              new TextWindows(ids, 16, 4),
              tc,
              (step, total, loss, val, tps) -> steps.add(step),
              Checkpointing.none(),
              bad);
      assertThat(steps).hasSize(20);
      for (var p : lm.block().getParameters()) {
        for (float x : p.getValue().getArray().toFloatArray()) {
          assertThat(x).isFinite();
        }
      }
      assertThat(r.curve()).isNotEmpty();
      for (TrainResult.CurvePoint c : r.curve()) {
        assertThat(c.trainLoss()).isFinite();
        assertThat(c.valLoss()).isFinite();
      }
    }
  }
}
