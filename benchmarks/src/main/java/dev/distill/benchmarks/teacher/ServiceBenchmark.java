package dev.distill.benchmarks.teacher;

import ai.djl.ndarray.NDManager;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.schemas.avro.Prompt;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.encoding.SingleObjectEncoding;
import dev.distill.teacher.inference.DynamicBatcher;
import dev.distill.teacher.inference.LabeledSequence;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.LocalTeacher;
import dev.distill.teacher.labeling.PromptLabeler;
import dev.distill.teacher.labeling.PromptLabeler.Prepared;
import dev.distill.teacher.service.TeacherMetrics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

/**
 * Soft-labelled tokens per second through the service path vs the raw forward pass of the same
 * model on the same batches, measured side by side in one run (rounds alternate, medians reported),
 * plus bytes per token of the records on the wire.
 *
 * <ul>
 *   <li>raw forward: {@code LanguageModel.logits} on batches of {@code batch} sequences (the
 *       limit);
 *   <li>labeler: the same batches through {@code PromptLabeler} (softmax at T, top-k, tail,
 *       statistics, codec, the Avro records), i.e. what the Kafka loop does per batch;
 *   <li>batcher: every sequence submitted on its own by concurrent clients to the {@code
 *       DynamicBatcher} the HTTP API uses, which regroups them up to the token budget.
 * </ul>
 *
 * <p>Usage: {@code ServiceBenchmark [sequences] [batch] [rounds] [topK]}, defaults 1024 64 3 8, on
 * the demo teacher's shape (4 layers, 4 heads, 128 wide, context 64, 65 characters).
 */
public final class ServiceBenchmark {
  private ServiceBenchmark() {}

  public static void main(String[] args) throws Exception {
    run(args);
  }

  /**
   * Runs one measurement on a fresh thread. Every path is measured this way (the batcher's worker
   * is fresh too): on this machine libtorch ran the same forward 1.5-4x slower on a thread that had
   * already run many forwards (the JVM's main thread included) than on a new one, so measuring the
   * paths on different kinds of threads would compare threads, not paths.
   */
  private interface Measure {
    double seconds() throws Exception;
  }

  private static double fresh(Measure m) throws Exception {
    double[] out = new double[1];
    Exception[] failure = new Exception[1];
    Thread t =
        new Thread(
            () -> {
              try {
                out[0] = m.seconds();
              } catch (Exception e) {
                failure[0] = e;
              }
            },
            "bench");
    t.start();
    t.join();
    if (failure[0] != null) {
      throw failure[0];
    }
    return out[0];
  }

  private static void run(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 1024;
    int batch = args.length > 1 ? Integer.parseInt(args[1]) : 64;
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
    int k = args.length > 3 ? Integer.parseInt(args[3]) : 8;
    StringBuilder chars = new StringBuilder();
    for (char c = ' '; chars.length() < 65; c++) {
      chars.append(c);
    }
    CharTokenizer tok = CharTokenizer.fromCorpus(chars.toString());
    int block = 64;
    try (LanguageModel lm =
        LanguageModel.create(new GptConfig(tok.vocabSize(), block, 4, 4, 128, 0f), tok, 1)) {
      LocalTeacher teacher = new LocalTeacher("bench", lm, new LabelingConfig(k, 2f, batch));
      PromptLabeler labeler = new PromptLabeler(teacher, block, block + 1);
      Random rng = new Random(3);
      List<int[]> seqs = new ArrayList<>(n);
      List<Prepared> prepared = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        int[] s = new int[block + 1];
        for (int j = 0; j < s.length; j++) {
          s[j] = rng.nextInt(tok.vocabSize());
        }
        seqs.add(s);
        Prompt p =
            Prompt.newBuilder()
                .setPromptId("p" + i)
                .setRunId("bench")
                .setSource("bench")
                .setText(tok.decode(s))
                .build();
        prepared.add((Prepared) labeler.prepare(p));
      }
      long positions = (long) n * block;
      System.out.printf(
          "model 4L/4H/128 ctx %d vocab %d; %d sequences x %d positions, batch %d, k %d%n",
          block, tok.vocabSize(), n, block, batch, k);
      // Warm-up of every path.
      raw(lm, seqs.subList(0, batch), batch);
      labelled(labeler, prepared.subList(0, batch), batch);
      long[] wire = new long[1];
      double[] rawTps = new double[rounds];
      double[] labTps = new double[rounds];
      double[] dynTps = new double[rounds];
      for (int r = 0; r < rounds; r++) {
        rawTps[r] = positions / fresh(() -> raw(lm, seqs, batch));
        labTps[r] = positions / fresh(() -> labelled(labeler, prepared, batch, wire));
        dynTps[r] = positions / batcher(teacher, seqs, batch * (block + 1));
        System.out.printf(
            "round %d: raw forward %.0f tok/s, labeler %.0f tok/s, batcher %.0f tok/s%n",
            r, rawTps[r], labTps[r], dynTps[r]);
      }
      double raw = median(rawTps);
      double lab = median(labTps);
      double dyn = median(dynTps);
      System.out.printf("median raw forward       : %.0f soft-labelled tokens/s%n", raw);
      System.out.printf(
          "median labeler (Kafka path): %.0f tokens/s = %.3f of raw%n", lab, lab / raw);
      System.out.printf(
          "median dynamic batcher (HTTP path): %.0f tokens/s = %.3f of raw%n", dyn, dyn / raw);
      System.out.printf(
          "bytes per token on the wire (Avro single-object TeacherOutput, uncompressed): %.2f%n",
          (double) wire[0] / positions);
    }
  }

  private static double raw(LanguageModel lm, List<int[]> seqs, int batch) {
    long start = System.nanoTime();
    for (int from = 0; from < seqs.size(); from += batch) {
      List<int[]> b = seqs.subList(from, Math.min(seqs.size(), from + batch));
      int[][] in = new int[b.size()][];
      for (int i = 0; i < in.length; i++) {
        in[i] = Arrays.copyOf(b.get(i), b.get(i).length - 1);
      }
      try (NDManager m = NDManager.newBaseManager()) {
        // Fetching one value waits for the forward to finish on any engine.
        lm.logits(m, in).get(0, 0, 0).getFloat();
      }
    }
    return (System.nanoTime() - start) / 1e9;
  }

  private static double labelled(PromptLabeler labeler, List<Prepared> prepared, int batch)
      throws Exception {
    return labelled(labeler, prepared, batch, new long[1]);
  }

  private static double labelled(
      PromptLabeler labeler, List<Prepared> prepared, int batch, long[] wire) throws Exception {
    long bytes = 0;
    long start = System.nanoTime();
    for (int from = 0; from < prepared.size(); from += batch) {
      for (List<TeacherOutput> chunks :
          labeler.label(prepared.subList(from, Math.min(prepared.size(), from + batch)))) {
        for (TeacherOutput o : chunks) {
          bytes += SingleObjectEncoding.encode(o).length;
        }
      }
    }
    double s = (System.nanoTime() - start) / 1e9;
    wire[0] = bytes;
    return s;
  }

  private static double batcher(LocalTeacher teacher, List<int[]> seqs, int tokenBudget)
      throws Exception {
    try (DynamicBatcher b =
        new DynamicBatcher(
            teacher, tokenBudget, Duration.ofMillis(5), seqs.size(), new TeacherMetrics())) {
      long start = System.nanoTime();
      List<CompletableFuture<LabeledSequence>> fs = new ArrayList<>(seqs.size());
      for (int[] s : seqs) {
        fs.add(b.submit(s));
      }
      for (CompletableFuture<LabeledSequence> f : fs) {
        f.get();
      }
      return (System.nanoTime() - start) / 1e9;
    }
  }

  private static double median(double[] xs) {
    double[] s = xs.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }
}
