package dev.distill.models.bench;

import dev.distill.models.generation.Sampler;
import dev.distill.models.generation.Sampler.Decoding;
import dev.distill.models.gpt.Gpt;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.gpt.LinearMode;
import dev.distill.models.tokenizer.CharTokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * Generated tokens per second of {@link Sampler} with the key/value cache ({@link
 * Decoding#KV_CACHE}) vs a full forward per token ({@link Decoding#FULL_CONTEXT}), side by side in
 * one run: every round runs each (mode, decoding) pair once, in an order rotated every round; each
 * run generates {@code newTokens} tokens after a {@code promptLength}-token prompt at temperature 1
 * with the same seed for both, and the medians over rounds and their ratio are printed. Also checks
 * that both decodings drew the same tokens.
 *
 * <p>Model: the demo teacher's shape (4 layers, 4 heads, 128 wide, context 64, 65 characters),
 * randomly initialised (speed does not depend on the values).
 *
 * <p>Usage: {@code GenerationBenchmark [rounds] [promptLength] [newTokens] [modes]}, defaults 20 16
 * 48 DENSE,TERNARY; modes is a comma-separated list of {@link LinearMode}s.
 */
public final class GenerationBenchmark {

  private GenerationBenchmark() {}

  public static void main(String[] args) {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 20;
    int promptLength = args.length > 1 ? Integer.parseInt(args[1]) : 16;
    int newTokens = args.length > 2 ? Integer.parseInt(args[2]) : 48;
    List<LinearMode> modes = new ArrayList<>();
    for (String m : (args.length > 3 ? args[3] : "DENSE,TERNARY").split(",")) {
      modes.add(LinearMode.valueOf(m.trim()));
    }
    String chars =
        IntStream.range(0, 65)
            .mapToObj(i -> String.valueOf((char) (' ' + i)))
            .reduce("", String::concat);
    CharTokenizer tokenizer = CharTokenizer.fromCorpus(chars);
    GptConfig config = new GptConfig(65, 64, 4, 4, 128, 0f);
    int[] prompt = new Random(1).ints(promptLength, 0, config.vocabSize()).toArray();
    System.out.printf(
        Locale.ROOT,
        "model %s, prompt %d tokens, %d new tokens, temperature 1, %d rounds (+1 warm-up)%n",
        config,
        promptLength,
        newTokens,
        rounds);
    System.out.printf(
        Locale.ROOT,
        "%-17s %14s %14s %8s %s%n",
        "mode",
        "full tok/s",
        "cached tok/s",
        "ratio",
        "same tokens");
    List<LanguageModel> models = new ArrayList<>();
    try {
      for (LinearMode mode : modes) {
        models.add(create(config, tokenizer, mode));
      }
      // every (mode, decoding) pair runs once per round, in an order rotated every round, so a
      // load change on a shared machine hits all of them alike
      List<int[]> pairs = new ArrayList<>();
      for (int m = 0; m < modes.size(); m++) {
        for (int d = 0; d < 2; d++) {
          pairs.add(new int[] {m, d});
        }
      }
      Decoding[] decodings = {Decoding.FULL_CONTEXT, Decoding.KV_CACHE};
      double[][][] rates = new double[modes.size()][2][rounds];
      int[][][] outs = new int[modes.size()][2][];
      boolean[] same = new boolean[modes.size()];
      Arrays.fill(same, true);
      for (int round = -1; round < rounds; round++) {
        for (int p = 0; p < pairs.size(); p++) {
          int[] pair = pairs.get(Math.floorMod(p + round, pairs.size()));
          int m = pair[0];
          int d = pair[1];
          long t0 = System.nanoTime();
          outs[m][d] =
              Sampler.generate(
                  models.get(m), prompt, newTokens, 1f, new Random(round + 7), decodings[d]);
          double seconds = (System.nanoTime() - t0) / 1e9;
          if (round >= 0) {
            rates[m][d][round] = newTokens / seconds;
          }
        }
        for (int m = 0; m < modes.size(); m++) {
          same[m] &= Arrays.equals(outs[m][0], outs[m][1]);
        }
      }
      for (int m = 0; m < modes.size(); m++) {
        double full = median(rates[m][0]);
        double cached = median(rates[m][1]);
        System.out.printf(
            Locale.ROOT,
            "%-17s %14.1f %14.1f %7.2fx %s%n",
            modes.get(m),
            full,
            cached,
            cached / full,
            same[m] ? "yes" : "NO");
      }
    } finally {
      models.forEach(LanguageModel::close);
    }
  }

  private static LanguageModel create(GptConfig config, CharTokenizer tokenizer, LinearMode mode) {
    if (mode != LinearMode.LOW_RANK) {
      return LanguageModel.create(config, tokenizer, 0, mode);
    }
    // rank a quarter of the smaller side, a typical low-rank student
    Map<String, Integer> ranks = new LinkedHashMap<>();
    Gpt.linearShapes(config)
        .forEach((name, shape) -> ranks.put(name, (int) Math.min(shape[0], shape[1]) / 4));
    return LanguageModel.create(config, tokenizer, 0, ranks);
  }

  private static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }
}
