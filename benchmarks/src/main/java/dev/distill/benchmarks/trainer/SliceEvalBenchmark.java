package dev.distill.benchmarks.trainer;

import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.trainer.evaluation.EvalResult;
import dev.distill.trainer.evaluation.HeldOutEvaluator;
import dev.distill.trainer.evaluation.SliceMetrics;
import java.util.Locale;
import java.util.Random;

/**
 * What per-slice metrics cost {@code distill eval}: the same held-out evaluation (baby-GPT-sized
 * teacher and a 1/8 student, random weights, 65-token vocabulary, context 64) without and with a
 * {@link SliceMetrics.Accumulator}, alternating in one run, and the ratio of the medians. Args:
 * windows (default 200), rounds (default 5).
 */
public final class SliceEvalBenchmark {
  private SliceEvalBenchmark() {}

  public static void main(String[] args) {
    int windows = args.length > 0 ? Integer.parseInt(args[0]) : 200;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    StringBuilder alphabet = new StringBuilder();
    for (char c = '!'; alphabet.length() < 65; c++) {
      alphabet.append(c);
    }
    CharTokenizer tok = CharTokenizer.fromCorpus(alphabet.toString());
    int block = 64;
    int[] heldOut = new int[windows * block + 1];
    Random r = new Random(1);
    for (int i = 0; i < heldOut.length; i++) {
      heldOut[i] = r.nextInt(tok.vocabSize());
    }
    try (LanguageModel teacher =
            LanguageModel.create(new GptConfig(tok.vocabSize(), block, 4, 4, 128, 0f), tok, 1);
        LanguageModel student =
            LanguageModel.create(new GptConfig(tok.vocabSize(), block, 2, 4, 64, 0f), tok, 2)) {
      HeldOutEvaluator evaluator = new HeldOutEvaluator(teacher, heldOut, block, windows, 32);
      evaluator.evaluate("warm-up", student, 0);
      double[] plain = new double[rounds];
      double[] sliced = new double[rounds];
      for (int i = 0; i < rounds; i++) {
        // alternate which goes first, so neither always runs on a warmer machine
        EvalResult a = null;
        EvalResult b = null;
        SliceMetrics.Accumulator acc = null;
        for (int k = 0; k < 2; k++) {
          boolean slicedTurn = (i + k) % 2 == 1;
          long t = System.nanoTime();
          if (slicedTurn) {
            acc = new SliceMetrics.Accumulator("student", SliceMetrics.LENGTH_BUCKETS);
            b = evaluator.evaluate("student", student, 0, "bench", acc);
            sliced[i] = (System.nanoTime() - t) / 1e6;
          } else {
            a = evaluator.evaluate("student", student, 0);
            plain[i] = (System.nanoTime() - t) / 1e6;
          }
        }
        if (Math.abs(a.valLoss() - acc.rows().get(0).loss()) > 1e-4 || a.valLoss() != b.valLoss()) {
          throw new IllegalStateException("sliced and plain evaluation disagree");
        }
      }
      System.out.printf(
          Locale.ROOT,
          "per round, ms: plain %s, with slices %s%n",
          java.util.Arrays.toString(plain),
          java.util.Arrays.toString(sliced));
      java.util.Arrays.sort(plain);
      java.util.Arrays.sort(sliced);
      double p = plain[rounds / 2];
      double s = sliced[rounds / 2];
      // On a shared machine the fastest round is the least disturbed one: report it beside the
      // median.
      System.out.printf(
          Locale.ROOT,
          "%d windows x %d tokens, teacher + student forward: plain %.1f ms, with slices %.1f ms"
              + " (medians of %d), ratio %.3f; fastest rounds %.1f vs %.1f ms, ratio %.3f%n",
          windows,
          block,
          p,
          s,
          rounds,
          s / p,
          plain[0],
          sliced[0],
          sliced[0] / plain[0]);
      // What slicing adds on the JVM side alone (copying each window's numbers into its slices),
      // which a loaded machine disturbs far less than the forward passes.
      SliceMetrics.Example[] examples = new SliceMetrics.Example[windows];
      for (int w = 0; w < windows; w++) {
        double[] v = new double[block];
        boolean[] f = new boolean[block];
        for (int i = 0; i < block; i++) {
          v[i] = r.nextDouble();
          f[i] = r.nextBoolean();
        }
        examples[w] = new SliceMetrics.Example("bench", v, v, f, v, f);
      }
      double[] book = new double[20];
      for (int i = 0; i < book.length; i++) {
        long t = System.nanoTime();
        SliceMetrics.Accumulator acc =
            new SliceMetrics.Accumulator("student", SliceMetrics.LENGTH_BUCKETS);
        for (SliceMetrics.Example e : examples) {
          acc.add(e);
        }
        acc.rows();
        book[i] = (System.nanoTime() - t) / 1e6;
      }
      java.util.Arrays.sort(book);
      System.out.printf(
          Locale.ROOT,
          "slice bookkeeping alone: %.2f ms median (%.2f ms fastest) for %d windows%n",
          book[book.length / 2],
          book[0],
          windows);
    }
  }
}
