package dev.distill.benchmarks.models;

import ai.djl.ndarray.NDManager;
import dev.distill.models.generation.CachedDecoder;
import dev.distill.models.generation.Sampler;
import dev.distill.models.generation.Sampler.Decoding;
import dev.distill.models.gpt.Gpt;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.nn.LinearMode;
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
 * <p>A second table does the same for greedy decoding of a batch of {@code batch} prompts (what
 * rationale sampling and the reasoning evaluation do): {@link CachedDecoder} vs {@link
 * LanguageModel#logits} of the cropped contexts per token; its tokens/s count every row.
 *
 * <p>Usage: {@code GenerationBenchmark [rounds] [promptLength] [newTokens] [modes] [batch]
 * [decodings]}, defaults 20 16 48 DENSE,TERNARY 16 both; modes is a comma-separated list of {@link
 * LinearMode}s; decodings {@code cached} runs only {@code Sampler.generate} with the cache (no
 * full-forward runs, no batch table: what {@code scripts/generation.sh} compares with PyTorch);
 * decodings {@code backends} compares, in both tables, the KV cache's two paths: the engine's
 * cached forward ({@code distill.decode=engine}, first column) and the Java decoder ({@code
 * distill.decode=java}, second column; {@link CachedDecoder.Backend}).
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
    int batch = args.length > 4 ? Integer.parseInt(args[4]) : 16;
    boolean cachedOnly = args.length > 5 && args[5].equals("cached");
    boolean backends = args.length > 5 && args[5].equals("backends");
    String chars =
        IntStream.range(0, 65)
            .mapToObj(i -> String.valueOf((char) (' ' + i)))
            .reduce("", String::concat);
    CharTokenizer tokenizer = CharTokenizer.fromCorpus(chars);
    GptConfig config = new GptConfig(65, 64, 4, 4, 128, 0f);
    int[] prompt = new Random(1).ints(promptLength, 0, config.vocabSize()).toArray();
    int[][] prompts = new int[batch][];
    Random promptRng = new Random(2);
    for (int i = 0; i < batch; i++) {
      prompts[i] = promptRng.ints(promptLength, 0, config.vocabSize()).toArray();
    }
    System.out.printf(
        Locale.ROOT,
        "model %s, prompt %d tokens, %d new tokens, temperature 1, %d rounds (+1 warm-up)%n",
        config,
        promptLength,
        newTokens,
        rounds);
    List<LanguageModel> models = new ArrayList<>();
    try {
      for (LinearMode mode : modes) {
        models.add(create(config, tokenizer, mode));
      }
      // every (mode, decoding) pair runs once per round, in an order rotated every round, so a
      // load change on a shared machine hits all of them alike
      List<int[]> pairs = new ArrayList<>();
      for (int m = 0; m < modes.size(); m++) {
        for (int d = cachedOnly ? 1 : 0; d < 2; d++) {
          pairs.add(new int[] {m, d});
        }
      }
      Decoding[] decodings = {Decoding.FULL_CONTEXT, Decoding.KV_CACHE};
      // [mode][decoding][round]; kind 0 = Sampler at batch 1, kind 1 = greedy batch of `batch`
      double[][][][] rates = new double[2][modes.size()][2][rounds];
      int[][][][][] outs = new int[2][modes.size()][2][][];
      boolean[][] same = new boolean[2][modes.size()];
      Arrays.fill(same[0], true);
      Arrays.fill(same[1], true);
      for (int round = -1; round < rounds; round++) {
        for (int p = 0; p < pairs.size(); p++) {
          int[] pair = pairs.get(Math.floorMod(p + round, pairs.size()));
          int m = pair[0];
          int d = pair[1];
          Decoding decoding = decodings[d];
          if (backends) {
            // both columns decode through the cache; the property picks CachedDecoder's path
            System.setProperty(CachedDecoder.PROPERTY, d == 0 ? "engine" : "java");
            decoding = Decoding.KV_CACHE;
          }
          long t0 = System.nanoTime();
          outs[0][m][d] =
              new int[][] {
                Sampler.generate(
                    models.get(m), prompt, newTokens, 1f, new Random(round + 7), decoding)
              };
          double seconds = (System.nanoTime() - t0) / 1e9;
          if (round >= 0) {
            rates[0][m][d][round] = newTokens / seconds;
          }
          if (cachedOnly) {
            continue;
          }
          t0 = System.nanoTime();
          outs[1][m][d] = greedyBatch(models.get(m), prompts, newTokens, decoding);
          double batchSeconds = (System.nanoTime() - t0) / 1e9;
          if (round >= 0) {
            rates[1][m][d][round] = batch * newTokens / batchSeconds;
          }
        }
        for (int kind = 0; kind < 2; kind++) {
          for (int m = 0; m < modes.size(); m++) {
            same[kind][m] &= Arrays.deepEquals(outs[kind][m][0], outs[kind][m][1]);
          }
        }
      }
      for (int kind = 0; kind < (cachedOnly ? 1 : 2); kind++) {
        System.out.println(
            kind == 0
                ? "Sampler.generate, batch 1, temperature 1:"
                : "greedy decoding of a batch of "
                    + batch
                    + (backends
                        ? " prompts (CachedDecoder, engine vs Java):"
                        : " prompts (CachedDecoder vs logits):"));
        printRows(modes, rates[kind], same[kind], backends);
      }
    } finally {
      models.forEach(LanguageModel::close);
    }
  }

  private static void printRows(
      List<LinearMode> modes, double[][][] rates, boolean[] same, boolean backends) {
    System.out.printf(
        Locale.ROOT,
        "%-17s %14s %14s %8s %s%n",
        "mode",
        backends ? "engine tok/s" : "full tok/s",
        backends ? "java tok/s" : "cached tok/s",
        "ratio",
        "same tokens");
    for (int m = 0; m < modes.size(); m++) {
      double full = median(rates[m][0]);
      double cached = median(rates[m][1]);
      if (full == 0) { // decodings "cached": no full-forward runs to compare with
        System.out.printf(
            Locale.ROOT, "%-17s %14s %14.1f %8s %s%n", modes.get(m), "-", cached, "-", "-");
        continue;
      }
      System.out.printf(
          Locale.ROOT,
          "%-17s %14.1f %14.1f %7.2fx %s%n",
          modes.get(m),
          full,
          cached,
          cached / full,
          same[m] ? "yes" : "NO");
    }
  }

  /**
   * Greedy decoding of {@code prompts} (equal lengths) in one batch: through a {@link
   * CachedDecoder}, or a full forward of the cropped contexts per token.
   */
  private static int[][] greedyBatch(
      LanguageModel lm, int[][] prompts, int newTokens, Decoding decoding) {
    int[][] seqs = Arrays.stream(prompts).map(int[]::clone).toArray(int[][]::new);
    int block = lm.config().blockSize();
    try (CachedDecoder decoder = new CachedDecoder(lm);
        NDManager manager = lm.model().getNDManager().newSubManager()) {
      for (int step = 0; step < newTokens; step++) {
        float[][] last;
        if (decoding == Decoding.KV_CACHE) {
          last = decoder.nextLogits(seqs);
        } else {
          int len = seqs[0].length;
          int from = Math.max(0, len - block);
          int[][] ctx =
              Arrays.stream(seqs).map(r -> Arrays.copyOfRange(r, from, len)).toArray(int[][]::new);
          try (NDManager stepManager = manager.newSubManager()) {
            float[] flat = lm.logits(stepManager, ctx).get(":, -1, :").toFloatArray();
            int v = lm.vocabSize();
            last = new float[seqs.length][];
            for (int i = 0; i < seqs.length; i++) {
              last[i] = Arrays.copyOfRange(flat, i * v, (i + 1) * v);
            }
          }
        }
        for (int i = 0; i < seqs.length; i++) {
          int best = 0;
          for (int j = 1; j < last[i].length; j++) {
            if (last[i][j] > last[i][best]) {
              best = j;
            }
          }
          seqs[i] = Arrays.copyOf(seqs[i], seqs[i].length + 1);
          seqs[i][seqs[i].length - 1] = best;
        }
      }
    }
    return seqs;
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
