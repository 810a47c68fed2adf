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
 * one run: rounds alternate the two decodings (the order flips every round), each round generates
 * {@code newTokens} tokens after a {@code promptLength}-token prompt at temperature 1 with the same
 * seed for both, and the medians over rounds and their ratio are printed. Also checks that both
 * decodings drew the same tokens.
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
    for (LinearMode mode : modes) {
      try (LanguageModel lm = create(config, tokenizer, mode)) {
        Map<Decoding, double[]> rates = new LinkedHashMap<>();
        for (Decoding d : Decoding.values()) {
          rates.put(d, new double[rounds]);
        }
        boolean same = true;
        for (int round = -1; round < rounds; round++) {
          Decoding[] order =
              (round & 1) == 0
                  ? new Decoding[] {Decoding.FULL_CONTEXT, Decoding.KV_CACHE}
                  : new Decoding[] {Decoding.KV_CACHE, Decoding.FULL_CONTEXT};
          int[][] outs = new int[2][];
          for (int i = 0; i < 2; i++) {
            long t0 = System.nanoTime();
            outs[i] = Sampler.generate(lm, prompt, newTokens, 1f, new Random(round + 7), order[i]);
            double seconds = (System.nanoTime() - t0) / 1e9;
            if (round >= 0) {
              rates.get(order[i])[round] = newTokens / seconds;
            }
          }
          same &= Arrays.equals(outs[0], outs[1]);
        }
        double full = median(rates.get(Decoding.FULL_CONTEXT));
        double cached = median(rates.get(Decoding.KV_CACHE));
        System.out.printf(
            Locale.ROOT,
            "%-17s %14.1f %14.1f %7.2fx %s%n",
            mode,
            full,
            cached,
            cached / full,
            same ? "yes" : "NO");
      }
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
