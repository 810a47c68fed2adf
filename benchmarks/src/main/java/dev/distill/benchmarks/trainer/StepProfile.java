package dev.distill.benchmarks.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import dev.distill.models.generation.CachedDecoder;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.trainer.training.BatchSource;
import dev.distill.trainer.training.ResumableAdamW;
import dev.distill.trainer.training.TextWindows;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainingStep;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Where one training step and one decoding step of nanoGPT's baby GPT spend their time (issue 13):
 * the phases of {@code TrainingLoop}'s step (data, forward + loss, backward, gathering the
 * gradients and clipping, the multi-tensor AdamW update) timed separately over {@code steps} steps
 * (medians), then each phase of one step recorded by libtorch's profiler through DJL ({@link
 * JniUtils#startProfile}), one Chrome trace per phase under {@code outDir} ({@code
 * train-<phase>.json}); then one cached decoding step at batch 1 ({@code decode.json}) after a
 * 16-token prompt. {@code benchmarks/scripts/profile_breakdown.py} sums the traces per op category;
 * the wall time of a phase minus its ops' time is Java, JNI and allocation.
 *
 * <p>Args: corpus, outDir ({@code -} for the phase timings alone), [warm-up steps = 30], [timed
 * steps = 30].
 */
public final class StepProfile {
  private StepProfile() {}

  /** {@code -Dstep-profile.per-parameter=true}: DJL's per-parameter update, for comparison. */
  private static final boolean PER_PARAMETER = Boolean.getBoolean("step-profile.per-parameter");

  private static final String[] PHASES = {"data", "forward", "backward", "clip", "optimizer"};

  public static void main(String[] args) throws Exception {
    String text = Files.readString(Path.of(args[0]), StandardCharsets.UTF_8);
    // "-": phase timings only, no traces
    Path out = args[1].equals("-") ? null : Path.of(args[1]);
    if (out != null) {
      Files.createDirectories(out);
    }
    int warmup = args.length > 2 ? Integer.parseInt(args[2]) : 30;
    int steps = args.length > 3 ? Integer.parseInt(args[3]) : 30;
    CharTokenizer tok = CharTokenizer.fromCorpus(text);
    int[] all = tok.encode(text);
    GptConfig gc = new GptConfig(tok.vocabSize(), 64, 4, 4, 128, 0f);
    TrainConfig tc =
        TrainConfig.builder(2000, 12, 1e-3f)
            .warmupSteps(100)
            .minLearningRate(1e-4f)
            .weightDecay(0.01f)
            .evaluation(0, 50)
            .build();
    try (LanguageModel lm = LanguageModel.create(gc, tok, 1337)) {
      System.out.printf(
          Locale.ROOT,
          "threads intra-op %d inter-op %d%n",
          JniUtils.getNumThreads(),
          JniUtils.getNumInteropThreads());
      ResumableAdamW opt = TrainingStep.optimizer(tc, Map.of());
      TextWindows train = new TextWindows(all, 64, 12);
      Random rng = new Random(1);
      try (Trainer trainer = lm.model().newTrainer(TrainingStep.trainingConfig(opt))) {
        List<NDArray> params = TrainingStep.parameters(lm);
        List<String> ids = new java.util.ArrayList<>();
        lm.block().getParameters().forEach(p -> ids.add(p.getValue().getId()));
        for (int i = 0; i < warmup; i++) {
          step(trainer, opt, ids, train, rng, params, null, null);
        }
        double[][] ms = new double[PHASES.length][steps];
        long cpu0 = processCpuNanos();
        long wall0 = System.nanoTime();
        for (int i = 0; i < steps; i++) {
          double[] t = new double[PHASES.length];
          step(trainer, opt, ids, train, rng, params, t, null);
          for (int p = 0; p < PHASES.length; p++) {
            ms[p][i] = t[p];
          }
        }
        // CPU time of the whole process per step: less sensitive than wall time to other
        // processes on a shared machine (with OMP_WAIT_POLICY=PASSIVE idle workers sleep).
        System.out.printf(
            Locale.ROOT,
            "per step: wall %.2f ms, process cpu %.2f ms%n",
            (System.nanoTime() - wall0) / 1e6 / steps,
            (processCpuNanos() - cpu0) / 1e6 / steps);
        double total = 0;
        for (int p = 0; p < PHASES.length; p++) {
          double m = median(ms[p]);
          total += m;
          System.out.printf(Locale.ROOT, "phase %-9s median %7.2f ms%n", PHASES[p], m);
        }
        System.out.printf(Locale.ROOT, "phase total     median %7.2f ms%n", total);
        if (out != null) {
          double[] t = new double[PHASES.length];
          step(trainer, opt, ids, train, rng, params, t, out);
          StringBuilder walls = new StringBuilder("profiled step walls (ms):");
          for (int p = 0; p < PHASES.length; p++) {
            walls.append(String.format(Locale.ROOT, " %s=%.3f", PHASES[p], t[p]));
          }
          System.out.println(walls);
        }
      }
      decode(lm, out);
    }
  }

  /** One training step as {@code TrainingLoop} runs it; phase times in ms into {@code t}. */
  private static void step(
      Trainer trainer,
      ResumableAdamW opt,
      List<String> ids,
      TextWindows train,
      Random rng,
      List<NDArray> params,
      double[] t,
      Path profileDir) {
    try (NDManager sm = trainer.getManager().newSubManager()) {
      long t0 = begin(profileDir);
      BatchSource.Batch batch = train.next(sm, rng);
      long t1 = end(profileDir, "data", t0, t, 0);
      NDArray loss;
      ResumableAdamW.Gradients grads;
      try (GradientCollector gc = trainer.newGradientCollector()) {
        begin(profileDir);
        t1 = System.nanoTime();
        NDArray logits = trainer.forward(new NDList(batch.inputs())).singletonOrThrow();
        loss = batch.loss(logits);
        long t2 = end(profileDir, "forward", t1, t, 1);
        begin(profileDir);
        t2 = System.nanoTime();
        gc.backward(loss);
        float l = loss.getFloat();
        end(profileDir, "backward", t2, t, 2);
        begin(profileDir);
        long t3 = System.nanoTime();
        double norm;
        if (PER_PARAMETER) {
          grads = null;
          norm = TrainingStep.clipGlobalNorm(params, 1f);
        } else {
          grads = opt.gather(ids, params, sm);
          norm = grads.clipGlobalNorm(1f);
        }
        end(profileDir, "clip", t3, t, 3);
        if (!Float.isFinite(l) || !Double.isFinite(norm)) {
          throw new IllegalStateException("non-finite step");
        }
      }
      begin(profileDir);
      long t4 = System.nanoTime();
      if (grads == null) {
        trainer.step();
      } else {
        opt.update(grads);
        grads.zeroParameterGradients();
      }
      end(profileDir, "optimizer", t4, t, 4);
    }
  }

  private static long begin(Path profileDir) {
    if (profileDir != null) {
      JniUtils.startProfile(false, true, false);
    }
    return System.nanoTime();
  }

  private static long end(Path profileDir, String phase, long from, double[] t, int slot) {
    long now = System.nanoTime();
    if (t != null) {
      t[slot] = (now - from) / 1e6;
    }
    if (profileDir != null) {
      JniUtils.stopProfile(profileDir.resolve("train-" + phase + ".json").toString());
    }
    return now;
  }

  /** Batch-1 cached decoding: 16-token prompt, 20 warm-up tokens, then one profiled token. */
  private static void decode(LanguageModel lm, Path out) {
    int[] seq = new Random(3).ints(16, 0, lm.config().vocabSize()).toArray();
    try (CachedDecoder d = new CachedDecoder(lm)) {
      for (int i = 0; i < 21; i++) {
        if (i == 20 && out != null) {
          JniUtils.startProfile(false, true, false);
        }
        long t0 = System.nanoTime();
        float[] logits = d.nextLogits(seq);
        long t1 = System.nanoTime();
        if (i == 20 && out != null) {
          JniUtils.stopProfile(out.resolve("decode.json").toString());
          System.out.printf(
              Locale.ROOT, "profiled decode step walls (ms): decode=%.3f%n", (t1 - t0) / 1e6);
        }
        int best = 0;
        for (int j = 1; j < logits.length; j++) {
          if (logits[j] > logits[best]) {
            best = j;
          }
        }
        seq = Arrays.copyOf(seq, seq.length + 1);
        seq[seq.length - 1] = best;
      }
      double[] ms = new double[50];
      for (int i = 0; i < ms.length; i++) {
        // prompt of 16 + 20 tokens, then 20 more: stay inside the block of 64
        int[] s = Arrays.copyOf(seq, 36);
        try (CachedDecoder e = new CachedDecoder(lm)) {
          e.nextLogits(Arrays.copyOf(s, 35));
          long t0 = System.nanoTime();
          e.nextLogits(s);
          ms[i] = (System.nanoTime() - t0) / 1e6;
        }
      }
      System.out.printf(
          Locale.ROOT, "decode step (batch 1, position 36) median %.3f ms%n", median(ms));
    }
  }

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean)
            java.lang.management.ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  private static double median(double[] values) {
    double[] s = values.clone();
    Arrays.sort(s);
    int n = s.length;
    return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }
}
