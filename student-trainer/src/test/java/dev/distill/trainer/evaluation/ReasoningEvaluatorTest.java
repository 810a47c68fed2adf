package dev.distill.trainer.evaluation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.models.generation.Sampler;
import dev.distill.models.generation.Sampler.Decoding;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.trainer.training.ProgressListener;
import dev.distill.trainer.training.TextWindows;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainingLoop;
import java.util.List;
import java.util.Random;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ReasoningEvaluatorTest {
  static final String EXAMPLE = "1+1=\nr2\nA 2.\n";
  static LanguageModel model;

  /** A tiny model that has memorised one worked example. */
  @BeforeAll
  static void train() {
    String text = EXAMPLE.repeat(200);
    CharTokenizer tok = CharTokenizer.fromCorpus(text + "3");
    model = LanguageModel.create(new GptConfig(tok.vocabSize(), 16, 1, 2, 32, 0f), tok, 3);
    int[] ids = tok.encode(text);
    TrainingLoop.run(
        model,
        new TextWindows(ids, 16, 8),
        new TextWindows(ids, 16, 8),
        TrainConfig.builder(150, 8, 5e-3f).warmupSteps(10).minLearningRate(5e-4f).seed(1).build(),
        ProgressListener.NONE);
  }

  @AfterAll
  static void close() {
    model.close();
  }

  private static ReasoningEvaluator evaluator(List<ReasoningEvaluator.Task> tasks, String implied) {
    return new ReasoningEvaluator(
        tasks, "\n", Pattern.compile("A (\\d+)\\."), "A ", rationale -> implied, 12);
  }

  @Test
  void exactMatchCountsOnlyTheRightAnswer() {
    ReasoningEvaluator.Result r =
        evaluator(
                List.of(
                    new ReasoningEvaluator.Task("1+1=\n", "2", "add"),
                    new ReasoningEvaluator.Task("1+1=\n", "3", "wrong-gold")),
                "2")
            .evaluate("m", model);
    assertThat(r.problems()).isEqualTo(2);
    assertThat(r.exactMatchWithRationale()).isEqualTo(0.5);
    assertThat(r.withRationaleBySlice()).containsEntry("add", 1.0).containsEntry("wrong-gold", 0.0);
  }

  @Test
  void faithfulnessComparesTheRationalesImpliedAnswerWithTheEmittedOne() {
    List<ReasoningEvaluator.Task> t = List.of(new ReasoningEvaluator.Task("1+1=\n", "2", "add"));
    assertThat(evaluator(t, "2").evaluate("m", model).faithfulness()).isEqualTo(1.0);
    assertThat(evaluator(t, "7").evaluate("m", model).faithfulness()).isEqualTo(0.0);
  }

  @Test
  void greedyDecodingStopsAtTheAnswer() {
    String gen = evaluator(List.of(), "2").greedy(model, "\n1+1=\n", "");
    assertThat(gen).isEqualTo("r2\nA 2.");
  }

  @Test
  void batchedCachedDecodingMatchesUncachedGreedyDecodingOfEachContext() {
    // equal lengths decode as one batch; the rows stop at different steps (or never, running past
    // the block size of 16: 6 + 12 tokens)
    List<String> contexts = List.of("\n1+1=\n", "\n3+1=\n", "\n1+3=\n", "\nA 2.\n", "\n2+2=2");
    List<String> got = evaluator(List.of(), "2").greedyAll(model, contexts, "");
    Pattern answer = Pattern.compile("A (\\d+)\\.");
    for (int c = 0; c < contexts.size(); c++) {
      int[] prompt = model.tokenizer().encode(contexts.get(c));
      int[] out = Sampler.generate(model, prompt, 12, 0f, new Random(0), Decoding.FULL_CONTEXT);
      StringBuilder expected = new StringBuilder();
      for (int j = prompt.length; j < out.length; j++) {
        expected.append(model.tokenizer().decode(new int[] {out[j]}));
        if (answer.matcher(expected).find()) {
          break;
        }
      }
      assertThat(got.get(c)).as(contexts.get(c)).isEqualTo(expected.toString());
    }
    assertThat(got.get(0)).isEqualTo("r2\nA 2.");
  }

  @Test
  void promptOutsideTheVocabularyScoresZero() {
    ReasoningEvaluator.Result r =
        evaluator(List.of(new ReasoningEvaluator.Task("9*9=\n", "81", "mul")), "81")
            .evaluate("m", model);
    assertThat(r.exactMatchWithRationale()).isZero();
    assertThat(r.exactMatchWithoutRationale()).isZero();
  }
}
