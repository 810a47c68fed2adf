package dev.distill.deploy.workloads;

import dev.distill.models.generation.Sampler;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.trainer.training.TextWindows;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainResult;
import dev.distill.trainer.training.TrainingLoop;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Not a test: an experiment run by hand with -Dtest=ArithmeticTeacherExperiment. */
class ArithmeticTeacherExperiment {
  @Test
  void run() {
    int steps = Integer.getInteger("steps", 3000);
    int layers = Integer.getInteger("layers", 4);
    int embd = Integer.getInteger("embd", 128);
    List<ArithmeticTask.Problem> train =
        ArithmeticTask.generate(1, 60000, 1, 3, List.of("+", "-", "*"));
    StringBuilder sb = new StringBuilder();
    for (ArithmeticTask.Problem p : train) {
      sb.append(p.text());
    }
    String text = sb.toString();
    CharTokenizer tok = CharTokenizer.fromCorpus("0123456789+-*=\nAbc. ");
    int[] ids = tok.encode(text);
    System.out.println("chars " + ids.length + " vocab " + tok.vocabSize());
    GptConfig gc = new GptConfig(tok.vocabSize(), 64, layers, 4, embd, 0f);
    TrainConfig tc = new TrainConfig(steps, 24, 2e-3f, 100, 2e-4f, 0.01f, 1f, steps / 4, 4, 1);
    try (LanguageModel lm = LanguageModel.create(gc, tok, 1)) {
      long t0 = System.nanoTime();
      TrainResult r =
          TrainingLoop.run(
              lm,
              new TextWindows(ids, 64, 24),
              new TextWindows(ids, 64, 24),
              tc,
              (s, total, l, v, tps) -> {
                if (s % 250 == 0) {
                  System.out.printf("step %d loss %.4f val %.4f %.0f tok/s%n", s, l, v, tps);
                }
              });
      System.out.printf(
          "trained in %.0fs val %.4f%n", (System.nanoTime() - t0) / 1e9, r.finalValLoss());
      for (int digits : new int[] {2, 3, 4}) {
        List<ArithmeticTask.Problem> test =
            ArithmeticTask.generate(99 + digits, 100, digits, digits, List.of("+"));
        int ok = 0;
        long g0 = System.nanoTime();
        for (ArithmeticTask.Problem p : test) {
          int[] prompt = tok.encode(".\n" + p.prompt());
          int[] out = Sampler.generate(lm, prompt, 8 + 14 * (digits + 1), 0f, new Random(0));
          String gen = tok.decode(java.util.Arrays.copyOfRange(out, prompt.length, out.length));
          Long a = ArithmeticTask.extractAnswer(gen);
          if (a != null && a == p.answer()) {
            ok++;
          } else if (digits == 3 && ok < 3) {
            System.out.println("WRONG " + p.prompt() + gen);
          }
        }
        System.out.printf(
            "%d-digit addition exact match %d/100 (%.0fs)%n",
            digits, ok, (System.nanoTime() - g0) / 1e9);
      }
    }
  }
}
