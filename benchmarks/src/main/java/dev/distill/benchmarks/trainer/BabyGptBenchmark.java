package dev.distill.benchmarks.trainer;

import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.trainer.training.ProgressListener;
import dev.distill.trainer.training.TextWindows;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainResult;
import dev.distill.trainer.training.TrainingLoop;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * nanoGPT's CPU "baby GPT" trained with distill's DJL loop: the Java side of the comparison in
 * {@code benchmarks/scripts/baby_gpt.sh} (same model and recipe as {@code baby_gpt_pytorch.py}).
 * Not a test: a benchmark that prints numbers. Args: corpus path, iterations (default 2000), then
 * optionally the micro-batch (default 12), the accumulation steps (default 1) and the concurrent
 * micro-batches (default 1): {@code 6 2 2} trains the same 12 sequences a step as two micro-batches
 * of 6 at the same time, one intra-op thread each ({@code train.concurrent-micro-batches}).
 */
public final class BabyGptBenchmark {
  private BabyGptBenchmark() {}

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean)
            java.lang.management.ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  public static void main(String[] args) throws Exception {
    String text = Files.readString(Path.of(args[0]), StandardCharsets.UTF_8);
    int iters = args.length > 1 ? Integer.parseInt(args[1]) : 2000;
    int micro = args.length > 2 ? Integer.parseInt(args[2]) : 12;
    int accumulation = args.length > 3 ? Integer.parseInt(args[3]) : 1;
    int concurrent = args.length > 4 ? Integer.parseInt(args[4]) : 1;
    CharTokenizer tok = CharTokenizer.fromCorpus(text);
    int[] all = tok.encode(text);
    int n = (int) (all.length * 0.9);
    int[] train = Arrays.copyOfRange(all, 0, n);
    int[] val = Arrays.copyOfRange(all, n, all.length);
    GptConfig gc = new GptConfig(tok.vocabSize(), 64, 4, 4, 128, 0f);
    // Validation only at the end, over 50 batches, as the Python reference does.
    // Warm-up 100 steps, cut to the run's length for short smoke runs (TrainConfig requires
    // warmup <= steps); baby_gpt_pytorch.py cuts it the same way.
    int warmup = Math.min(100, iters);
    TrainConfig tc =
        TrainConfig.builder(iters, micro, 1e-3f)
            .warmupSteps(warmup)
            .minLearningRate(1e-4f)
            .weightDecay(0.01f)
            .evaluation(0, 50)
            .accumulationSteps(accumulation)
            .concurrentMicroBatches(concurrent)
            .build();
    try (LanguageModel lm = LanguageModel.create(gc, tok, 1337)) {
      long cpu0 = processCpuNanos();
      TrainResult r =
          TrainingLoop.run(
              lm,
              new TextWindows(train, 64, micro),
              new TextWindows(val, 64, 12),
              tc,
              ProgressListener.NONE);
      // Process CPU time (every thread: JIT and GC too) over the loop: on a machine shared with
      // other work it varies less than wall time. The loop's time includes the final validation
      // (50 forward passes, about 1% of 2,000 steps), which the Python reference's clock leaves
      // out: both numbers err against distill.
      double cpu = (processCpuNanos() - cpu0) / 1e9;
      System.out.printf(
          Locale.ROOT,
          "distill-djl iters=%d micro=%d accumulation=%d concurrent=%d tokens_per_second=%.0f val_loss=%.4f seconds=%.1f cpu_seconds=%.1f"
              + " tokens_per_cpu_second=%.0f%n",
          iters,
          micro,
          accumulation,
          concurrent,
          r.tokensPerSecond(),
          r.finalValLoss(),
          r.seconds(),
          cpu,
          iters * (double) micro * accumulation * 64 / cpu);
    }
  }
}
