package dev.distill.benchmarks.models;

import ai.djl.pytorch.jni.JniUtils;
import dev.distill.models.generation.Sampler;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.nn.LinearMode;
import dev.distill.models.tokenizer.CharTokenizer;
import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * Where a batch-1 decoding step's time goes (issue 13), load-insensitive: the calling thread's CPU
 * ms per generated token of {@link Sampler#generate} (KV cache, prompt 16, 48 new tokens,
 * temperature 1) on the demo teacher's shape (4 x 4 x 128, context 64, 65 ids), median over REPS
 * generations after 3 warm-up ones; then the CPU ticks and voluntary context switches of every
 * thread of the process that used more than 5 ticks (so an OpenMP worker that the steps woke, and
 * the decoding thread's waits for it, show up); optionally one generation's libtorch profiler trace
 * (Chrome format). Run it under JFR ({@code -XX:StartFlightRecording=...}) for the JVM side.
 *
 * <p>Usage: {@code DecodeCpuProbe [mode=DENSE] [reps=30] [trace.json]}; {@code
 * -Ddistill.decode=engine|java} picks {@code CachedDecoder}'s path (default auto: the Java path for
 * the modes it covers).
 */
public final class DecodeCpuProbe {

  private DecodeCpuProbe() {}

  public static void main(String[] args) throws IOException {
    LinearMode mode = LinearMode.valueOf(args.length > 0 ? args[0] : "DENSE");
    int reps = args.length > 1 ? Integer.parseInt(args[1]) : 30;
    String trace = args.length > 2 ? args[2] : null;
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    String chars =
        IntStream.range(0, 65)
            .mapToObj(i -> String.valueOf((char) (' ' + i)))
            .reduce("", String::concat);
    int newTokens = 48;
    double[] cpuMs = new double[reps];
    try (LanguageModel lm =
        LanguageModel.create(
            new GptConfig(65, 64, 4, 4, 128, 0f), CharTokenizer.fromCorpus(chars), 0, mode)) {
      int[] prompt = new Random(1).ints(16, 0, 65).toArray();
      for (int r = -3; r < reps; r++) {
        boolean profile = trace != null && r == reps - 1;
        long c0 = threads.getCurrentThreadCpuTime();
        if (profile) {
          JniUtils.startProfile(false, true, false);
        }
        Sampler.generate(lm, prompt, newTokens, 1f, new Random(r + 7));
        if (profile) {
          JniUtils.stopProfile(trace);
        }
        if (r >= 0) {
          cpuMs[r] = (threads.getCurrentThreadCpuTime() - c0) / 1e6 / newTokens;
        }
      }
    }
    double[] sorted = cpuMs.clone();
    Arrays.sort(sorted);
    System.out.printf(
        Locale.ROOT,
        "%s cpu-ms/token median %.4f min %.4f (%d generations of %d tokens)%n",
        mode,
        sorted[reps / 2],
        sorted[0],
        reps,
        newTokens);
    File[] tasks = new File("/proc/self/task").listFiles();
    for (File task : tasks == null ? new File[0] : tasks) {
      String name = Files.readString(task.toPath().resolve("comm")).trim();
      String stat = Files.readString(task.toPath().resolve("stat"));
      String[] fields = stat.substring(stat.lastIndexOf(") ") + 2).split(" ");
      long ticks = Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
      if (ticks > 5) {
        // voluntary switches: how often the thread slept, e.g. waiting for an OpenMP worker
        String switches =
            Files.readAllLines(task.toPath().resolve("status")).stream()
                .filter(l -> l.startsWith("voluntary_ctxt_switches"))
                .map(l -> l.replaceAll("\\D+", ""))
                .findFirst()
                .orElse("?");
        System.out.println(
            "thread "
                + task.getName()
                + " "
                + name
                + " cpu-ticks "
                + ticks
                + " voluntary-switches "
                + switches);
      }
    }
  }
}
