package dev.distill.models.gpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import dev.distill.models.tokenizer.CharTokenizer;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Times forward + backward + Adam on nanoGPT's CPU baby config. Not an assertion; run with {@code
 * mvn -pl models test -Dtest=GptBenchmarkTest -Ddistill.bench=true}.
 */
@EnabledIfSystemProperty(named = "distill.bench", matches = "true")
class GptBenchmarkTest {

  @Test
  void babyGptStepTime() {
    String chars =
        IntStream.range(0, 65)
            .mapToObj(i -> String.valueOf((char) (' ' + i)))
            .reduce("", String::concat);
    CharTokenizer tokenizer = CharTokenizer.fromCorpus(chars);
    GptConfig config = new GptConfig(65, 64, 4, 4, 128, 0f);
    int batch = 12;
    Random rng = new Random(0);
    try (LanguageModel lm = LanguageModel.create(config, tokenizer, 0);
        Trainer trainer =
            lm.model()
                .newTrainer(
                    new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                        .optOptimizer(Optimizer.adam().build()))) {
      int warmup = 10;
      int steps = 50;
      long start = 0;
      for (int s = 0; s < warmup + steps; s++) {
        if (s == warmup) {
          start = System.nanoTime();
        }
        int[][] x = new int[batch][64];
        int[][] y = new int[batch][64];
        for (int b = 0; b < batch; b++) {
          for (int t = 0; t < 64; t++) {
            x[b][t] = rng.nextInt(65);
            y[b][t] = rng.nextInt(65);
          }
        }
        try (NDManager m = trainer.getManager().newSubManager()) {
          try (GradientCollector gc = trainer.newGradientCollector()) {
            NDArray logits = trainer.forward(new NDList(m.create(x))).singletonOrThrow();
            NDArray loss =
                trainer
                    .getLoss()
                    .evaluate(
                        new NDList(m.create(y).reshape(-1)), new NDList(logits.reshape(-1, 65)));
            gc.backward(loss);
          }
          trainer.step();
        }
      }
      double ms = (System.nanoTime() - start) / 1e6 / steps;
      System.out.printf(
          "baby GPT (4x4x128, T=64, B=12): %.1f ms/step, %.0f tokens/s%n",
          ms, batch * 64 / (ms / 1000));
    }
  }
}
