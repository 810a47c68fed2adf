package dev.distill.trainer.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.trainer.io.TrainingCheckpoints;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EarlyStoppingTest {
  private static final String TEXT = "to be or not to be, that is the question. ".repeat(20);
  private static final int STEPS = 20;

  @TempDir Path tmp;

  /**
   * Validation batches whose loss is the next value of a script, one per validation pass (1 batch a
   * pass): the test decides when the validation loss stops improving.
   */
  private static final class ScriptedVal implements BatchSource {
    private final double[] script;
    private final TextWindows windows;
    private int pass;

    ScriptedVal(int[] ids, double[] script, int firstPass) {
      this.script = script;
      this.windows = new TextWindows(ids, 16, 2);
      this.pass = firstPass;
    }

    @Override
    public Batch next(NDManager manager, Random rng) {
      Batch b = windows.next(manager, rng);
      float value = (float) script[pass++];
      return Batch.of(b.inputs(), b.tokens(), logits -> manager.create(value));
    }
  }

  private record Run(TrainResult result, List<Integer> steps, Map<Integer, List<float[]>> params) {}

  private static List<float[]> parameters(LanguageModel lm) {
    List<float[]> out = new ArrayList<>();
    for (Pair<String, Parameter> p : lm.block().getParameters()) {
      out.add(p.getValue().getArray().toFloatArray());
    }
    return out;
  }

  /**
   * {@code SCRIPT} with the given patience, checkpointing every 3 steps into {@code dir}, killed
   * after step 7; returns the state of the latest valid checkpoint.
   */
  private static TrainingCheckpoints.State checkpointedRun(Path dir, int patience)
      throws Exception {
    run(
        SCRIPT,
        0,
        patience,
        0f,
        new Checkpointing(dir, 3, 2, false, Map.of()),
        7,
        new ArrayList<>());
    return TrainingCheckpoints.latestValid(dir, w -> {}).orElseThrow().state();
  }

  /** Trains with validation every 2 steps; the model's parameters after each step are kept. */
  private static Run run(
      double[] script,
      int firstPass,
      int patience,
      float minDelta,
      Checkpointing checkpointing,
      int throwAfter,
      List<float[]> endParams) {
    CharTokenizer tok = CharTokenizer.fromCorpus(TEXT);
    int[] ids = tok.encode(TEXT);
    TrainConfig tc =
        TrainConfig.builder(STEPS, 4, 3e-3f)
            .warmupSteps(2)
            .evaluation(2, 1)
            .seed(5)
            .earlyStopping(patience, minDelta)
            .build();
    List<Integer> steps = new ArrayList<>();
    Map<Integer, List<float[]>> params = new HashMap<>();
    try (LanguageModel lm =
        LanguageModel.create(new GptConfig(tok.vocabSize(), 16, 1, 2, 32, 0f), tok, 5)) {
      TrainResult r = null;
      try {
        r =
            TrainingLoop.run(
                lm,
                new TextWindows(ids, 16, 4),
                new ScriptedVal(ids, script, firstPass),
                tc,
                (step, total, loss, val, tps) -> {
                  steps.add(step);
                  params.put(step, parameters(lm));
                  if (step == throwAfter) {
                    throw new IllegalStateException("killed");
                  }
                },
                checkpointing);
      } catch (IllegalStateException e) {
        assertThat(e).hasMessage("killed");
      }
      endParams.addAll(parameters(lm));
      return new Run(r, steps, params);
    }
  }

  private static void assertSameParameters(List<float[]> a, List<float[]> b) {
    assertThat(a).hasSameSizeAs(b);
    for (int i = 0; i < a.size(); i++) {
      assertThat(a.get(i)).containsExactly(b.get(i));
    }
  }

  // Passes at steps 2, 4, 6, ...: the best is step 4 (2.0), then 2 passes without improvement.
  private static final double[] SCRIPT = {3.0, 2.0, 2.5, 2.25, 2.5, 2.75, 3.0, 3.25, 3.5, 3.75};

  @Test
  void stopsAfterPatiencePassesWithoutImprovementAndEndsWithTheBestPassesParameters() {
    List<float[]> end = new ArrayList<>();
    Run run = run(SCRIPT, 0, 2, 0f, Checkpointing.none(), -1, end);
    assertThat(run.result().stoppedEarly()).isTrue();
    assertThat(run.result().stoppedEarlyAt()).isEqualTo(8);
    assertThat(run.result().bestStep()).isEqualTo(4);
    assertThat(run.result().bestValLoss()).isEqualTo(2.0);
    assertThat(run.result().finalValLoss()).isEqualTo(2.0);
    assertThat(run.steps()).last().isEqualTo(8);
    assertThat(run.result().curve())
        .extracting(TrainResult.CurvePoint::step)
        .containsExactly(2, 4, 6, 8);
    // The model holds step 4's parameters, not those it had when it stopped.
    assertSameParameters(end, run.params().get(4));
    assertThat(end.get(0)).isNotEqualTo(run.params().get(6).get(0));
  }

  @Test
  void patienceZeroNeverStopsEarly() {
    List<float[]> end = new ArrayList<>();
    Run run = run(SCRIPT, 0, 0, 0f, Checkpointing.none(), -1, end);
    assertThat(run.result().stoppedEarly()).isFalse();
    assertThat(run.steps()).hasSize(STEPS);
    assertThat(run.result().bestStep()).isEqualTo(4);
    assertThat(run.result().finalValLoss()).isEqualTo(3.75);
    assertSameParameters(end, run.params().get(STEPS));
  }

  @Test
  void anImprovementSmallerThanMinDeltaDoesNotCount() {
    // 2.0 -> 1.95 and 1.92 improve by less than minDelta 0.1: patience runs out at step 8.
    double[] script = {3.0, 2.0, 1.95, 1.92, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0};
    List<float[]> end = new ArrayList<>();
    Run run = run(script, 0, 2, 0.1f, Checkpointing.none(), -1, end);
    assertThat(run.result().stoppedEarlyAt()).isEqualTo(8);
    assertThat(run.result().bestStep()).isEqualTo(4);
    assertSameParameters(end, run.params().get(4));
  }

  @Test
  void aRunResumedBetweenTheBestPassAndTheStopEndsAsTheUninterruptedRun() {
    List<float[]> expected = new ArrayList<>();
    Run whole = run(SCRIPT, 0, 2, 0f, Checkpointing.none(), -1, expected);
    Path dir = tmp.resolve("ckpt");
    // Killed after step 6 (checkpoint at step 6: best step 4, one pass without improvement).
    run(SCRIPT, 0, 2, 0f, new Checkpointing(dir, 3, 2, false, Map.of()), 7, new ArrayList<>());
    List<float[]> end = new ArrayList<>();
    // Resumed at step 6: 3 validation passes (steps 2, 4, 6) already happened.
    Run resumed = run(SCRIPT, 3, 2, 0f, new Checkpointing(dir, 3, 2, true, Map.of()), -1, end);
    assertThat(resumed.steps()).first().isEqualTo(7);
    assertThat(resumed.result().stoppedEarlyAt()).isEqualTo(whole.result().stoppedEarlyAt());
    assertThat(resumed.result().bestStep()).isEqualTo(4);
    assertSameParameters(end, expected);
  }

  @Test
  void theCheckpointRecordsTheEarlyStoppingState() throws Exception {
    Path dir = tmp.resolve("state");
    TrainingCheckpoints.State s = checkpointedRun(dir, 2);
    assertThat(s.step()).isEqualTo(6);
    assertThat(s.bestStep()).isEqualTo(4);
    assertThat(s.bestVal()).isEqualTo(2.0);
    assertThat(s.passesWithoutImprovement()).isEqualTo(1);
    assertThat(s.config()).containsEntry("patience", "2");
    // The best parameters travel under the manifest: a damaged copy is caught like any file.
    Path best = TrainingCheckpoints.dirOf(dir, 6).resolve(TrainingCheckpoints.BEST);
    assertThat(best).isNotEmptyFile();
    byte[] b = Files.readAllBytes(best);
    b[b.length / 2] ^= 0x5A;
    Files.write(best, b);
    List<String> warnings = new ArrayList<>();
    assertThat(TrainingCheckpoints.latestValid(dir, warnings::add).orElseThrow().state().step())
        .isEqualTo(3);
    assertThat(warnings).singleElement().asString().contains(TrainingCheckpoints.BEST);
  }

  @Test
  void withoutEarlyStoppingNoBestParametersAreWritten() throws Exception {
    Path dir = tmp.resolve("plain");
    TrainingCheckpoints.State s = checkpointedRun(dir, 0);
    assertThat(s.bestStep()).isEqualTo(4); // still tracked and reported
    assertThat(TrainingCheckpoints.dirOf(dir, 6).resolve(TrainingCheckpoints.BEST)).doesNotExist();
  }

  @Test
  void patienceWithoutPeriodicValidationIsRefused() {
    assertThatThrownBy(
            () ->
                TrainConfig.builder(10, 4, 1e-3f)
                    .minLearningRate(1e-4f)
                    .seed(1)
                    .earlyStopping(3, 0f)
                    .build())
        .hasMessageContaining("patience");
  }
}
