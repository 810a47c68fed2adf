package dev.distill.trainer.profiling;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import dev.distill.models.generation.CachedDecoder;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.hf.HfConfig;
import dev.distill.models.hf.HfDecoder;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.trainer.training.BatchSource;
import dev.distill.trainer.training.ResumableAdamW;
import dev.distill.trainer.training.TextWindows;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainingStep;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Issue 13's load-insensitive speed probe: single-thread CPU time (this thread's, {@link
 * ThreadMXBean}) per batch-1 cached decoding step or per training step, and one step's libtorch
 * profiler trace (Chrome format) from which {@code bench/speed_probe.sh} counts the engine ops. Run
 * with {@code OMP_NUM_THREADS=1} and one intra-op thread, so every op runs on this thread.
 *
 * <p>Modes: {@code decode-gpt} (the demo teacher's shape, 4 x 4 x 128, context 64) and {@code
 * decode-llama} (4 layers, 128 wide, 4 heads, 2 key/value heads, intermediate 384, RoPE): greedy
 * decoding of 47 tokens after a 16-token prompt, CPU ms per token of each of REPS generations
 * (after 3 warm-up generations), the 21st token profiled; {@code train}: nanoGPT's baby GPT (4 x 4
 * x 128, context 64, batch 12) training steps as {@code TrainingLoop} runs them (forward, loss,
 * backward, multi-tensor clipping and AdamW), CPU ms of each of REPS steps after 10 warm-up steps,
 * then one profiled step. Prints the median.
 *
 * <p>Args: mode, trace directory, REPS, corpus (tiny Shakespeare).
 */
public final class SpeedProbe {
  private SpeedProbe() {}

  static final ThreadMXBean TB = ManagementFactory.getThreadMXBean();

  static long cpu() {
    return TB.getCurrentThreadCpuTime();
  }

  static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    int n = s.length;
    return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }

  public static void main(String[] a) throws Exception {
    String mode = a[0];
    Path out = Path.of(a[1]);
    int reps = Integer.parseInt(a[2]);
    String text = Files.readString(Path.of(a[3]), StandardCharsets.UTF_8);
    CharTokenizer tok = CharTokenizer.fromCorpus(text);
    if (mode.startsWith("decode")) {
      LanguageModel lm;
      if (mode.equals("decode-llama")) {
        String llamaJson =
            "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"vocab_size\":65,"
                + "\"hidden_size\":128,\"intermediate_size\":384,\"num_hidden_layers\":4,"
                + "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"max_position_embeddings\":64,"
                + "\"rms_norm_eps\":1e-6,\"rope_theta\":10000.0,\"tie_word_embeddings\":true}";
        lm = LanguageModel.create(new HfDecoder(HfConfig.parse(llamaJson)), tok, 1);
      } else {
        lm = LanguageModel.create(new GptConfig(tok.vocabSize(), 64, 4, 4, 128, 0f), tok, 1337);
      }
      double[] perTok = new double[reps];
      for (int r = -3; r < reps; r++) {
        int[] seq = new Random(3 + r).ints(16, 0, lm.config().vocabSize()).toArray();
        try (CachedDecoder d = new CachedDecoder(lm)) {
          d.nextLogits(seq);
          long c0 = cpu();
          for (int i = 0; i < 47; i++) {
            if (r == reps - 1 && i == 20) JniUtils.startProfile(false, true, false);
            float[] logits = d.nextLogits(seq);
            if (r == reps - 1 && i == 20)
              JniUtils.stopProfile(out.resolve(mode + ".json").toString());
            int best = 0;
            for (int j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
            seq = Arrays.copyOf(seq, seq.length + 1);
            seq[seq.length - 1] = best;
          }
          if (r >= 0) perTok[r] = (cpu() - c0) / 1e6 / 47;
        }
      }
      System.out.printf(
          Locale.ROOT,
          "%s cpu-ms/token median %.4f all %s%n",
          mode,
          median(perTok),
          Arrays.toString(perTok));
      lm.close();
      return;
    }
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
      ResumableAdamW opt = TrainingStep.optimizer(tc, Map.of());
      TextWindows train = new TextWindows(all, 64, 12);
      Random rng = new Random(1);
      try (Trainer trainer = lm.model().newTrainer(TrainingStep.trainingConfig(opt))) {
        List<NDArray> params = TrainingStep.parameters(lm);
        List<String> ids = new ArrayList<>();
        lm.block().getParameters().forEach(p -> ids.add(p.getValue().getId()));
        double[] ms = new double[reps];
        float last = 0;
        for (int i = -10; i <= reps; i++) {
          boolean prof = i == reps;
          long c0 = cpu();
          if (prof) JniUtils.startProfile(false, true, false);
          try (NDManager sm = trainer.getManager().newSubManager()) {
            BatchSource.Batch batch = train.next(sm, rng);
            ResumableAdamW.Gradients grads;
            try (GradientCollector g = trainer.newGradientCollector()) {
              NDArray logits = trainer.forward(new NDList(batch.inputs())).singletonOrThrow();
              NDArray loss = batch.loss(logits);
              g.backward(loss);
              last = loss.getFloat();
              grads = opt.gather(ids, params, sm);
              grads.clipGlobalNorm(1f);
            }
            opt.update(grads);
            grads.zeroParameterGradients();
          }
          if (prof) JniUtils.stopProfile(out.resolve("train.json").toString());
          if (i >= 0 && i < reps) ms[i] = (cpu() - c0) / 1e6;
        }
        System.out.printf(
            Locale.ROOT,
            "train cpu-ms/step median %.2f loss-after %.4f all %s%n",
            median(ms),
            last,
            Arrays.toString(ms));
      }
    }
  }
}
