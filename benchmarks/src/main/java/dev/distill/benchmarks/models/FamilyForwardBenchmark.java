package dev.distill.benchmarks.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.KvCache;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.hf.HfConfig;
import dev.distill.models.hf.HfDecoder;
import dev.distill.models.tokenizer.CharTokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * Forward tokens/s of the Llama-family implementation ({@link HfDecoder}: RoPE, RMSNorm, SwiGLU,
 * grouped-query attention) beside our GPT at about the same parameter count, side by side in one
 * run: interleaved rounds (GPT, Llama, GPT, Llama...), medians and their ratio. Two workloads: a
 * full forward of a batch (what labelling and evaluation do) and batch-1 cached decoding (what
 * serving and rationale sampling do).
 *
 * <p>Models (random weights: speed does not depend on the values): our GPT at the demo teacher's
 * shape (4 layers, 4 heads, 128 wide, context 64, 65 ids) and a Llama with 4 layers, 128 wide, 4
 * heads of 32 with 2 key/value heads and an intermediate size of 384, tied embeddings.
 *
 * <p>Usage: {@code FamilyForwardBenchmark [rounds] [batch] [decodeTokens]}, defaults 7 12 48.
 */
public final class FamilyForwardBenchmark {

  private FamilyForwardBenchmark() {}

  public static void main(String[] args) {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 7;
    int batch = args.length > 1 ? Integer.parseInt(args[1]) : 12;
    int decodeTokens = args.length > 2 ? Integer.parseInt(args[2]) : 48;
    String chars =
        IntStream.range(0, 65)
            .mapToObj(i -> String.valueOf((char) (' ' + i)))
            .reduce("", String::concat);
    CharTokenizer tok = CharTokenizer.fromCorpus(chars);
    String llamaJson =
        "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"vocab_size\":65,"
            + "\"hidden_size\":128,\"intermediate_size\":384,\"num_hidden_layers\":4,"
            + "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"max_position_embeddings\":64,"
            + "\"rms_norm_eps\":1e-6,\"rope_theta\":10000.0,\"tie_word_embeddings\":true}";
    try (LanguageModel gpt = LanguageModel.create(new GptConfig(65, 64, 4, 4, 128, 0f), tok, 1);
        LanguageModel llama =
            LanguageModel.create(new HfDecoder(HfConfig.parse(llamaJson)), tok, 1);
        NDManager m = NDManager.newBaseManager("PyTorch")) {
      System.out.printf(
          Locale.ROOT,
          "params: gpt %,d, llama %,d; cores %d%n",
          gpt.config().parameterCount(),
          llama.config().parameterCount(),
          Runtime.getRuntime().availableProcessors());
      Random rng = new Random(3);
      int[][] tokens = new int[batch][64];
      for (int[] row : tokens) {
        Arrays.setAll(row, i -> rng.nextInt(65));
      }
      List<Double> gptFull = new ArrayList<>();
      List<Double> llamaFull = new ArrayList<>();
      List<Double> gptDecode = new ArrayList<>();
      List<Double> llamaDecode = new ArrayList<>();
      for (int r = -1; r < rounds; r++) { // round -1 warms up
        double gf = full(gpt, m, tokens);
        double lf = full(llama, m, tokens);
        double gd = decode(gpt, m, decodeTokens);
        double ld = decode(llama, m, decodeTokens);
        if (r >= 0) {
          gptFull.add(gf);
          llamaFull.add(lf);
          gptDecode.add(gd);
          llamaDecode.add(ld);
        }
      }
      System.out.printf(
          Locale.ROOT,
          "full forward (batch %d x 64): gpt %,.0f tok/s, llama %,.0f tok/s, llama/gpt %.2f%n",
          batch,
          median(gptFull),
          median(llamaFull),
          median(llamaFull) / median(gptFull));
      System.out.printf(
          Locale.ROOT,
          "cached decoding (batch 1, %d tokens): gpt %,.0f tok/s, llama %,.0f tok/s, llama/gpt"
              + " %.2f%n",
          decodeTokens,
          median(gptDecode),
          median(llamaDecode),
          median(llamaDecode) / median(gptDecode));
    }
  }

  private static double full(LanguageModel lm, NDManager m, int[][] tokens) {
    long t0 = System.nanoTime();
    for (int i = 0; i < 5; i++) {
      try (NDArray out = lm.logits(m, tokens)) {
        out.getFloat(0, 0, 0);
      }
    }
    return 5.0 * tokens.length * tokens[0].length / ((System.nanoTime() - t0) / 1e9);
  }

  private static double decode(LanguageModel lm, NDManager m, int n) {
    long t0 = System.nanoTime();
    try (KvCache cache = lm.newKvCache()) {
      int[][] next = {{1, 2, 3, 4}};
      for (int i = 0; i < n; i++) {
        try (NDArray out = cache.logits(m, next)) {
          long t = out.getShape().get(1);
          int id = (int) out.get(0, t - 1).argMax().getLong();
          next = new int[][] {{id}};
        }
      }
    }
    return n / ((System.nanoTime() - t0) / 1e9);
  }

  private static double median(List<Double> xs) {
    double[] a = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
  }
}
