package dev.distill.benchmarks.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.distill.deploy.workloads.ArithmeticTask;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.models.tokenizer.Tokenizer;
import dev.distill.models.tokenizer.Tokenizers;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.trainer.data.Example;
import dev.distill.trainer.evaluation.ReasoningEvaluator;
import dev.distill.trainer.loss.DistillationLoss;
import dev.distill.trainer.loss.Divergence;
import dev.distill.trainer.training.BatchSource;
import dev.distill.trainer.training.CrossTokenizerBatches;
import dev.distill.trainer.training.LocalOnPolicyTeacher;
import dev.distill.trainer.training.OnPolicyBatches;
import dev.distill.trainer.training.OnPolicyConfig;
import dev.distill.trainer.training.OnPolicySampler;
import dev.distill.trainer.training.ProgressListener;
import dev.distill.trainer.training.SoftLabelBatches;
import dev.distill.trainer.training.TextWindows;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainingLoop;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;

/**
 * Evidence for the distillation methods of issue 15 (ask 6): the same student architecture, the
 * same steps and rows per step, one teacher trained once and cached, several seeds. Not a test:
 * prints one {@code RESULT} line per (method, seed) and a table of means and spreads.
 *
 * <p><b>arithmetic</b>: a char-level teacher trained on step-by-step solutions of 1- to 3-digit
 * problems ({@code deploy}'s {@link ArithmeticTask}); students trained from {@code steps x batch}
 * training problems by
 *
 * <ul>
 *   <li>{@code off-policy}: token-level KD on the gold texts labelled by the teacher (top-k + tail
 *       at T, {@link LocalOnPolicyTeacher}, the offline labeller's {@code TopKTail});
 *   <li>{@code seq-kd}: sequence-level KD (Kim and Rush 2016): the teacher's own greedy completion
 *       of each prompt, cut after its answer line, labelled with its own soft labels;
 *   <li>{@code on-policy-0.5}, {@code on-policy-1.0}: {@link OnPolicyBatches} around the off-policy
 *       source at lambda 0.5 and 1 (GKD; {@code on-policy.divergence}, default JSD(0.5)), the
 *       prompt being each gold row up to its {@code "=\n"} and a sample ending at the {@code ".\n"}
 *       of its answer line ({@code on-policy.prompt-end}, {@code on-policy.stop}: the CLI's keys).
 * </ul>
 *
 * Held-out exact match (greedy, with rationale) per slice: 2- and 3-digit add/sub/mul and 4-digit
 * addition (longer than any training problem); problems seen in training are skipped.
 *
 * <p><b>shakespeare</b>: a char-level teacher on the corpus' first 90%; students on the same
 * labelled windows: {@code hard-label} (alpha 0), {@code kd} (same char tokenizer), and {@code
 * uld}, {@code span}, {@code span-debiased} and {@code span-path} (a byte-level BPE student
 * tokenizer, {@link CrossTokenizerBatches}), and the control {@code hard-label-bpe} (the BPE
 * student on the same texts, alpha 0: what the tokenizer alone changes). Held-out loss is nats per
 * character: the summed next-token negative log-likelihood of the held-out text (the first {@code
 * eval.chars} characters of the last 10%, in windows of blockSize + 1 tokens of the model's own
 * tokenizer, the first token of each window read only as context) divided by the characters of the
 * predicted tokens; for a char model that is the mean token loss.
 *
 * <p>Args: {@code arithmetic|shakespeare} then {@code key=value} overrides of the defaults printed
 * at the start.
 */
public final class MethodsEvidence {
  private MethodsEvidence() {}

  private static final List<String> OPS = List.of("+", "-", "*");
  private static final String CONTEXT = ".\n";

  /** Defaults, one key=value a line; arguments override them. */
  private static final String DEFAULTS =
      """
          cache=runs/.cache/methods-evidence
          data.seed=1337
          seeds=1,2,3
          block=64
          teacher.layers=3
          teacher.heads=4
          teacher.embd=96
          teacher.steps=600
          teacher.batch=16
          teacher.lr=0.002
          student.layers=2
          student.heads=4
          student.embd=48
          steps=150
          batch=16
          lr=0.003
          pool=12000
          warm.steps=0
          warm.lr=0.003
          alpha=0.5
          k=8
          T=1
          problems=20000
          on-policy.max-tokens=auto
          on-policy.temperature=1
          on-policy.divergence=jsd
          on-policy.beta=0.5
          on-policy.prompt-end==\\n
          on-policy.stop=.\\n
          on-policy.pilot=256
          arithmetic.methods=off-policy,seq-kd,on-policy-0.5,on-policy-1.0
          eval.problems=15
          corpus=deploy/src/main/resources/corpus/tinyshakespeare.txt
          bpe=deploy/src/main/resources/tokenizers/bpe-shakespeare
          eval.chars=10000
          shakespeare.methods=hard-label,kd,uld,span,span-debiased,span-path,hard-label-bpe
      """;

  public static void main(String[] args) throws Exception {
    Map<String, String> o = new LinkedHashMap<>();
    for (String line : DEFAULTS.strip().split("\n")) {
      String kv = line.strip();
      o.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
    }
    for (int i = 1; i < args.length; i++) {
      int eq = args[i].indexOf('=');
      if (eq < 0 || !o.containsKey(args[i].substring(0, eq))) {
        throw new IllegalArgumentException(
            "unknown option '" + args[i] + "'; known: " + o.keySet());
      }
      o.put(args[i].substring(0, eq), args[i].substring(eq + 1));
    }
    System.out.println("[evidence] " + args[0] + " " + o);
    Opts opts = new Opts(o);
    switch (args[0]) {
      case "arithmetic" -> arithmetic(opts);
      // train and cache a part's teacher only (e.g. ahead of the students' settings)
      case "arithmetic-teacher" -> arithmeticTeacher(opts).close();
      case "shakespeare-teacher" -> shakespeareTeacher(opts).close();
      case "arithmetic-warm" -> {
        for (long seed : opts.seeds()) {
          warmStart(opts, seed);
        }
      }
      case "shakespeare" -> shakespeare(opts);
      default -> throw new IllegalArgumentException("arithmetic or shakespeare, got " + args[0]);
    }
  }

  /** Typed access to the options. */
  private record Opts(Map<String, String> m) {
    int i(String k) {
      return Integer.parseInt(m.get(k));
    }

    float f(String k) {
      return Float.parseFloat(m.get(k));
    }

    String s(String k) {
      return m.get(k);
    }

    long[] seeds() {
      return Arrays.stream(m.get("seeds").split(",")).mapToLong(Long::parseLong).toArray();
    }

    GptConfig model(String who, int vocab) {
      return new GptConfig(
          vocab, i("block"), i(who + ".layers"), i(who + ".heads"), i(who + ".embd"), 0f);
    }

    /** Cosine schedule, weight decay 0.01, clip 1; validation only at the end. */
    TrainConfig train(int steps, int batch, float lr, long seed) {
      return TrainConfig.builder(steps, batch, lr)
          .warmupSteps(Math.max(1, steps / 30))
          .minLearningRate(lr / 10)
          .weightDecay(0.01f)
          .gradClipNorm(1f)
          .evaluation(steps, 4)
          .seed(seed)
          .build();
    }
  }

  // ---------------------------------------------------------------- arithmetic

  private static final CharTokenizer ARITHMETIC_TOKENIZER =
      CharTokenizer.fromCorpus("0123456789+-*=\nAbc. ");

  /** The teacher's training problems: the demo's generator and seed ({@code data.seed}). */
  private static List<ArithmeticTask.Problem> arithmeticProblems(Opts o) {
    return ArithmeticTask.generate(o.i("data.seed"), o.i("problems"), 1, 3, OPS);
  }

  /** The gold texts of every training problem, one after another: the teacher's stream. */
  private static int[] goldStream(Opts o) {
    StringBuilder sb = new StringBuilder();
    for (ArithmeticTask.Problem p : arithmeticProblems(o)) {
      sb.append(p.text());
    }
    return ARITHMETIC_TOKENIZER.encode(sb.toString());
  }

  /** The arithmetic teacher, trained on the gold texts of every training problem (cached). */
  private static LanguageModel arithmeticTeacher(Opts o) throws IOException {
    return cachedTeacher(o, "arithmetic", ARITHMETIC_TOKENIZER, goldStream(o));
  }

  /**
   * The supervised warm start of one seed (cached under {@code cache/arithmetic-warm-KEY}): the
   * student trained {@code warm.steps} steps on the teacher's own training stream (the gold texts,
   * same 95% split) with cross-entropy alone, as GKD's students are fine-tuned on the task data
   * before distillation; it needs no teacher, so it can train while the teacher does. With {@code
   * warm.steps=0}, the seed's initialisation.
   */
  private static Path warmStart(Opts o, long seed) throws IOException {
    CharTokenizer tok = ARITHMETIC_TOKENIZER;
    int[] tokens = goldStream(o);
    GptConfig gc = o.model("student", tok.vocabSize());
    int w = o.i("warm.steps");
    TrainConfig tc = o.train(Math.max(1, w), o.i("batch"), o.f("warm.lr"), seed);
    String key =
        sha256(
                w
                    + "|"
                    + gc.toJson()
                    + "|"
                    + tc
                    + "|"
                    + tok.sha256()
                    + "|"
                    + sha256(Arrays.toString(tokens)))
            .substring(0, 16);
    Path dir = Path.of(o.s("cache")).resolve("arithmetic-warm-" + key);
    if (Files.exists(dir.resolve(Checkpoints.MANIFEST))) {
      System.out.println("[evidence] cached warm start " + dir);
      return dir;
    }
    try (LanguageModel student = LanguageModel.create(gc, tok, seed)) {
      if (w > 0) {
        long start = System.nanoTime();
        var r = trainOnStream(student, tokens, tc, (step, total, l, v, tps) -> {});
        System.out.printf(
            Locale.ROOT,
            "[evidence] warm start seed %d: %d steps, val loss %.4f in %.0f s%n",
            seed,
            w,
            r.finalValLoss(),
            (System.nanoTime() - start) / 1e9);
      }
      Checkpoints.save(student, dir, Map.of("evidence.warm-start", "seed " + seed));
    }
    return dir;
  }

  private static void arithmetic(Opts o) throws IOException {
    CharTokenizer tok = ARITHMETIC_TOKENIZER;
    List<ArithmeticTask.Problem> problems = arithmeticProblems(o);
    try (LanguageModel teacher = arithmeticTeacher(o)) {
      float t = o.f("T");
      int k = o.i("k");
      LocalOnPolicyTeacher scorer = new LocalOnPolicyTeacher(teacher, tok, t, k);
      // the students' problems: the first `pool` of the teacher's training problems, each
      // labelled once; batches draw from them with replacement
      int rows = o.i("pool");
      List<ArithmeticTask.Problem> labelled = problems.subList(0, rows);
      List<int[]> gold = new ArrayList<>();
      List<int[]> prompts = new ArrayList<>();
      int[] budget = new int[rows];
      int longest = 0;
      for (int i = 0; i < rows; i++) {
        ArithmeticTask.Problem p = labelled.get(i);
        gold.add(tok.encode(CONTEXT + p.text()));
        prompts.add(tok.encode(CONTEXT + p.prompt()));
        budget[i] = Math.min(o.i("block") + 1 - prompts.get(i).length, gold.get(i).length + 8);
        longest = Math.max(longest, gold.get(i).length - prompts.get(i).length);
      }
      // on-policy samples this many tokens after every problem: just above the longest gold
      // completion (rationale and answer line), so every sampled completion can be whole
      int maxTokens =
          o.s("on-policy.max-tokens").equals("auto") ? longest + 2 : o.i("on-policy.max-tokens");
      List<Example> offline = label(scorer, gold, "gold");
      List<String> methods = List.of(o.s("arithmetic.methods").split(","));
      List<int[]> completions = new ArrayList<>();
      // the teacher's completions only when seq-kd runs (they cost 4,000 greedy generations)
      for (int from = 0; methods.contains("seq-kd") && from < rows; from += 64) {
        int to = Math.min(rows, from + 64);
        List<int[]> out =
            OnPolicySampler.sample(
                teacher, prompts.subList(from, to), Arrays.copyOfRange(budget, from, to), 0f, 0);
        for (int[] c : out) {
          completions.add(cutAfterAnswer(tok, c));
        }
      }
      List<Example> sequenceLevel = label(scorer, completions, "teacher");
      long goldPositions = offline.stream().mapToLong(e -> e.tokens().length - 1).sum();
      long seqPositions = sequenceLevel.stream().mapToLong(e -> e.tokens().length - 1).sum();
      System.out.printf(
          Locale.ROOT,
          "[evidence] %d training problems labelled: gold %,d positions, teacher completions %,d"
              + " positions; longest gold completion %d tokens, on-policy samples %d%n",
          rows,
          goldPositions,
          seqPositions,
          longest,
          maxTokens);
      Set<String> seen = new HashSet<>();
      problems.forEach(p -> seen.add(p.prompt()));
      List<Held> held = heldOut(seen, o.i("eval.problems"));
      List<ReasoningEvaluator.Task> tasks = new ArrayList<>();
      for (Held h : held) {
        tasks.add(
            new ReasoningEvaluator.Task(
                h.problem().prompt(), Long.toString(h.problem().answer()), h.slice()));
      }
      ReasoningEvaluator evaluator =
          new ReasoningEvaluator(
              tasks,
              CONTEXT,
              ArithmeticTask.ANSWER,
              "A ",
              ArithmeticTask::answerFromRationale,
              o.i("block"));
      Results results = new Results();
      results.add("teacher", 0, evaluator.evaluate("teacher", teacher), goldLoss(teacher, held), 0);
      DistillationLoss kd = new DistillationLoss(o.f("alpha"), t);
      List<Example> val = offline.subList(0, Math.min(64, offline.size()));
      // The same teacher-token budget for every method, counted as teacher-labelled positions the
      // loss reads: off-policy reads a gold row's positions per row and step, seq-kd a teacher
      // completion's, an on-policy row the positions it actually sampled (after its problem, up to
      // and including the stop ".\n" of its answer line; at most maxTokens). So each method gets
      // `steps` times the off-policy positions per row divided by its own (lambda 0.5: the mean of
      // both). An on-policy row's length is known only once sampled: it is estimated per seed from
      // a pilot, the warm start's samples of the first `on-policy.pilot` training problems at the
      // run's temperature and stop, and each run prints the positions its loss actually read.
      double goldPerRow = (double) goldPositions / rows;
      OnPolicyConfig template =
          OnPolicyConfig.of(
              1f,
              o.f("on-policy.temperature"),
              maxTokens,
              o.s("on-policy.divergence"),
              o.f("on-policy.beta"),
              o.s("on-policy.prompt-end"),
              o.s("on-policy.stop"));
      long positionBudget = Math.round(o.i("steps") * o.i("batch") * goldPerRow);
      System.out.printf(
          Locale.ROOT,
          "[evidence] budget %,d positions (%d steps x %d rows x %.1f positions per gold row);"
              + " on-policy %s%n",
          positionBudget,
          o.i("steps"),
          o.i("batch"),
          goldPerRow,
          template.describe());
      String warm = "warm-start";
      for (long seed : o.seeds()) {
        // GKD (Agarwal et al. 2024, sec. 3-4) starts on-policy training from a supervised (SFT)
        // student: one supervised warm start per seed, then every method's phase from it, so
        // only that last phase differs
        Path warmDir = warmStart(o, seed);
        if (o.i("warm.steps") > 0) {
          try (LanguageModel student = Checkpoints.load(warmDir)) {
            results.add(warm, seed, evaluator.evaluate(warm, student), goldLoss(student, held), 0);
          }
        }
        for (String method : methods) {
          OnPolicyConfig onPolicyConfig =
              method.startsWith("on-policy") ? onPolicyVariant(template, method) : null;
          double pilot = Double.NaN;
          if (onPolicyConfig != null) {
            try (LanguageModel student = Checkpoints.load(warmDir)) {
              pilot =
                  pilotPositions(student, prompts, onPolicyConfig, o.i("on-policy.pilot"), seed);
            }
          }
          double perRow =
              switch (method) {
                case "off-policy" -> goldPerRow;
                case "seq-kd" -> (double) seqPositions / rows;
                default -> {
                  double lambda = onPolicyConfig.fraction();
                  yield lambda * pilot + (1 - lambda) * goldPerRow;
                }
              };
          int steps = (int) Math.max(1, Math.round(o.i("steps") * goldPerRow / perRow));
          try (LanguageModel student = Checkpoints.load(warmDir)) {
            BatchSource train =
                new SoftLabelBatches(
                    method.equals("seq-kd") ? sequenceLevel : offline, o.i("batch"), kd);
            OnPolicyBatches onPolicy = null;
            if (onPolicyConfig != null) {
              onPolicy = new OnPolicyBatches(train, student, scorer, onPolicyConfig, seed);
              train = onPolicy;
            }
            MethodsEvidenceSources.Counted counted = new MethodsEvidenceSources.Counted(train);
            long start = System.nanoTime();
            TrainingLoop.run(
                student,
                counted,
                new SoftLabelBatches(val, o.i("batch"), kd),
                // the data order differs from the warm start's
                o.train(steps, o.i("batch"), o.f("lr"), seed + 1000),
                (step, total, l, v, tps) -> {});
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.printf(
                Locale.ROOT,
                "[evidence] %s seed %d: %d steps at %.1f positions per row%s; %,d teacher-labelled"
                    + " positions read by the loss (%.3f of the budget)%s%n",
                method,
                seed,
                steps,
                perRow,
                method.startsWith("on-policy")
                    ? String.format(Locale.ROOT, " (pilot %.1f per on-policy row)", pilot)
                    : "",
                counted.positions(),
                (double) counted.positions() / positionBudget,
                onPolicy == null
                    ? ""
                    : "; " + onPolicy.stats().describe(seconds) + "; " + onPolicyConfig.describe());
            results.add(
                method,
                seed,
                evaluator.evaluate(method, student),
                goldLoss(student, held),
                seconds);
          }
        }
      }
      table("arithmetic: held-out exact match (greedy, with rationale)", results.em, "%.3f");
      table(
          "arithmetic: held-out loss of the gold solution given the prompt, nats per char",
          results.loss,
          "%.4f");
    }
  }

  /**
   * The on-policy settings a method names: {@code on-policy-LAMBDA}, optionally followed by {@code
   * /reverse_kl} or {@code /jsd:BETA} (the divergence) and {@code /T:TEMPERATURE} (sampling), e.g.
   * {@code on-policy-1.0/jsd:0.9/T:0.7}; what it does not name is {@code template}'s.
   */
  static OnPolicyConfig onPolicyVariant(OnPolicyConfig template, String method) {
    String[] parts = method.substring("on-policy-".length()).split("/");
    float lambda = Float.parseFloat(parts[0]);
    Divergence d = template.divergence();
    float temperature = template.temperature();
    for (int i = 1; i < parts.length; i++) {
      String p = parts[i];
      if (p.equals("reverse_kl")) {
        d = Divergence.REVERSE_KL;
      } else if (p.startsWith("jsd:")) {
        d = Divergence.jsd(Float.parseFloat(p.substring(4)));
      } else if (p.startsWith("T:")) {
        temperature = Float.parseFloat(p.substring(2));
      } else {
        throw new IllegalArgumentException("unknown on-policy variant '" + p + "' in " + method);
      }
    }
    return new OnPolicyConfig(
        lambda, temperature, template.maxTokens(), d, template.promptEnd(), template.stop());
  }

  /**
   * Mean positions an on-policy row of {@code student} reads: its samples after each of the first
   * {@code n} training prompts (batches of 32) at {@code c}'s temperature, up to {@code c}'s stop
   * or {@code c.maxTokens()}.
   */
  private static double pilotPositions(
      LanguageModel student, List<int[]> prompts, OnPolicyConfig c, int n, long seed) {
    int[] stop = c.stop().isEmpty() ? new int[0] : student.tokenizer().encode(c.stop());
    long positions = 0;
    int rows = Math.min(n, prompts.size());
    for (int from = 0; from < rows; from += 32) {
      List<int[]> chunk = prompts.subList(from, Math.min(rows, from + 32));
      int[] counts = new int[chunk.size()];
      for (int i = 0; i < counts.length; i++) {
        counts[i] = Math.min(c.maxTokens(), student.config().blockSize() + 1 - chunk.get(i).length);
      }
      List<int[]> out =
          OnPolicySampler.sample(student, chunk, counts, c.temperature(), seed * 31 + from, stop);
      for (int i = 0; i < counts.length; i++) {
        positions += out.get(i).length - chunk.get(i).length;
      }
    }
    return (double) positions / rows;
  }

  /** Per method, per slice ("all" first), one value per seed. */
  private static final class Results {
    final Map<String, Map<String, List<Double>>> em = new LinkedHashMap<>();
    final Map<String, Map<String, List<Double>>> loss = new LinkedHashMap<>();

    void add(
        String method,
        long seed,
        ReasoningEvaluator.Result r,
        Map<String, Double> goldLoss,
        double seconds) {
      report(method, seed, r, goldLoss, seconds);
      Map<String, List<Double>> byLoss = loss.computeIfAbsent(method, x -> new LinkedHashMap<>());
      goldLoss.forEach((sl, v) -> byLoss.computeIfAbsent(sl, x -> new ArrayList<>()).add(v));
      Map<String, List<Double>> byMetric = em.computeIfAbsent(method, x -> new LinkedHashMap<>());
      byMetric.computeIfAbsent("all", x -> new ArrayList<>()).add(r.exactMatchWithRationale());
      r.withRationaleBySlice()
          .forEach((s, v) -> byMetric.computeIfAbsent(s, x -> new ArrayList<>()).add(v));
    }
  }

  /** The completion up to and including its first answer line ("A n."), else all of it. */
  private static int[] cutAfterAnswer(Tokenizer tok, int[] ids) {
    String text = tok.decode(ids);
    int promptEnd = text.indexOf("=\n") + 2;
    Matcher m = ArithmeticTask.ANSWER.matcher(text);
    if (m.find(promptEnd)) {
      return tok.encode(text.substring(0, Math.min(text.length(), m.end() + 1)));
    }
    return ids;
  }

  /** A held-out problem and its slice. */
  private record Held(String slice, ArithmeticTask.Problem problem) {}

  private static List<Held> heldOut(Set<String> seen, int perSlice) {
    List<Held> tasks = new ArrayList<>();
    // slice name, operation, digits; 4-digit addition is longer than any training problem
    String[] slices = {
      "add/3-digit +3", "sub/3-digit -3", "mul/3-digit *3", "add/4-digit_(longer_than_training) +4"
    };
    long seed = 9_000_001L;
    for (String slice : slices) {
      String[] parts = slice.split(" ");
      String op = parts[1].substring(0, 1);
      int digits = Integer.parseInt(parts[1].substring(1));
      List<ArithmeticTask.Problem> candidates =
          ArithmeticTask.generate(seed++, perSlice * 20, digits, digits, List.of(op));
      candidates.stream()
          .filter(p -> seen.add(p.prompt()))
          .limit(perSlice)
          .forEach(p -> tasks.add(new Held(parts[0], p)));
    }
    return tasks;
  }

  private static void report(
      String method, long seed, ReasoningEvaluator.Result r, Map<String, Double> loss, double s) {
    StringBuilder sb = new StringBuilder();
    r.withRationaleBySlice()
        .forEach((k, v) -> sb.append(String.format(Locale.ROOT, " em:%s=%.3f", k, v)));
    loss.forEach((k, v) -> sb.append(String.format(Locale.ROOT, " loss:%s=%.4f", k, v)));
    System.out.printf(
        Locale.ROOT,
        "RESULT arithmetic method=%s seed=%d seconds=%.0f em=%.3f%s%n",
        method,
        seed,
        s,
        r.exactMatchWithRationale(),
        sb);
  }

  /**
   * Per slice (and "all"), the teacher-forced loss of the held-out gold solutions (rationale and
   * answer) given their prompts, nats per character: a graded measure beside exact match, which is
   * 0 until a model gets every character of an answer right. Texts longer than the context are cut
   * to its blockSize + 1 characters.
   */
  private static Map<String, Double> goldLoss(LanguageModel lm, List<Held> held) {
    Map<String, double[]> sums = new LinkedHashMap<>();
    int max = lm.config().blockSize() + 1;
    for (Held h : held) {
      int[] full = lm.tokenizer().encode(CONTEXT + h.problem().text());
      full = Arrays.copyOf(full, Math.min(full.length, max));
      int promptLength = lm.tokenizer().encode(CONTEXT + h.problem().prompt()).length;
      double nats = 0;
      try (NDManager m = lm.model().getNDManager().newSubManager()) {
        int[] in = Arrays.copyOf(full, full.length - 1);
        float[] logp = lm.logits(m, new int[][] {in}).logSoftmax(-1).toFloatArray();
        for (int p = promptLength - 1; p < in.length; p++) {
          nats -= logp[p * lm.vocabSize() + full[p + 1]];
        }
      }
      int chars = full.length - promptLength;
      for (String key : List.of("all", h.slice())) {
        double[] acc = sums.computeIfAbsent(key, x -> new double[2]);
        acc[0] += nats;
        acc[1] += chars;
      }
    }
    Map<String, Double> out = new LinkedHashMap<>();
    sums.forEach((k, v) -> out.put(k, v[0] / v[1]));
    return out;
  }

  // ---------------------------------------------------------------- shakespeare

  /** The char-level Shakespeare teacher on the corpus' first 90% (cached). */
  private static LanguageModel shakespeareTeacher(Opts o) throws IOException {
    String text = Files.readString(Path.of(o.s("corpus")), StandardCharsets.UTF_8);
    CharTokenizer tok = CharTokenizer.fromCorpus(text);
    return cachedTeacher(
        o, "shakespeare", tok, tok.encode(text.substring(0, (int) (text.length() * 0.9))));
  }

  private static void shakespeare(Opts o) throws IOException {
    String text = Files.readString(Path.of(o.s("corpus")), StandardCharsets.UTF_8);
    int split = (int) (text.length() * 0.9);
    CharTokenizer tok = CharTokenizer.fromCorpus(text);
    Tokenizer bpe = Tokenizers.load(Path.of(o.s("bpe")));
    int[] train = tok.encode(text.substring(0, split));
    String heldOut = text.substring(split, Math.min(text.length(), split + o.i("eval.chars")));
    int block = o.i("block");
    try (LanguageModel teacher = shakespeareTeacher(o)) {
      float t = o.f("T");
      LocalOnPolicyTeacher scorer = new LocalOnPolicyTeacher(teacher, tok, t, o.i("k"));
      int rows = o.i("steps") * o.i("batch");
      // evenly spaced windows over the training text, one per training row
      List<int[]> windows = new ArrayList<>();
      long stride = (train.length - block - 1) / rows;
      for (int i = 0; i < rows; i++) {
        int s = Math.toIntExact(i * stride);
        windows.add(Arrays.copyOfRange(train, s, s + block + 1));
      }
      List<Example> examples = label(scorer, windows, "w");
      List<Example> val = examples.subList(0, 64);
      System.out.printf(
          Locale.ROOT,
          "[evidence] %d windows of %d chars labelled (top-%d at T=%s); held-out %d chars%n",
          rows,
          block + 1,
          o.i("k"),
          o.s("T"),
          heldOut.length());
      System.out.printf(
          Locale.ROOT,
          "RESULT shakespeare method=teacher seed=0 nats_per_char=%.4f%n",
          natsPerChar(teacher, heldOut));
      Map<String, Map<String, List<Double>>> results = new LinkedHashMap<>();
      for (long seed : o.seeds()) {
        for (String method : o.s("shakespeare.methods").split(",")) {
          boolean cross = !method.equals("hard-label") && !method.equals("kd");
          Tokenizer st = cross ? bpe : tok;
          BatchSource source =
              cross
                  ? new CrossTokenizerBatches(
                      examples,
                      tok,
                      bpe,
                      // hard-label-bpe: the BPE student on the same texts, CE only (alpha 0)
                      // span, span-debiased, span-path; uld and hard-label-bpe read ULD's batches
                      CrossTokenizerBatches.Kind.parse(method.startsWith("span") ? method : "uld"),
                      method.equals("hard-label-bpe") ? 0f : o.f("alpha"),
                      t,
                      o.i("batch"),
                      block,
                      Divergence.FORWARD_KL)
                  : new SoftLabelBatches(
                      examples,
                      o.i("batch"),
                      new DistillationLoss(method.equals("kd") ? o.f("alpha") : 0f, t));
          BatchSource valSource =
              cross
                  ? new TextWindows(bpe.encode(text.substring(0, 20_000)), block, o.i("batch"))
                  : new SoftLabelBatches(val, o.i("batch"), new DistillationLoss(0f, t));
          try (LanguageModel student =
              LanguageModel.create(o.model("student", st.vocabSize()), st, seed)) {
            long start = System.nanoTime();
            TrainingLoop.run(
                student,
                source,
                valSource,
                o.train(o.i("steps"), o.i("batch"), o.f("lr"), seed),
                (step, total, l, v, tps) -> {});
            double seconds = (System.nanoTime() - start) / 1e9;
            double loss = natsPerChar(student, heldOut);
            System.out.printf(
                Locale.ROOT,
                "RESULT shakespeare method=%s seed=%d seconds=%.0f tokenizer=%s vocab=%d"
                    + " nats_per_char=%.4f%n",
                method,
                seed,
                seconds,
                cross ? "bpe" : "char",
                st.vocabSize(),
                loss);
            results
                .computeIfAbsent(method, x -> new LinkedHashMap<>())
                .computeIfAbsent("held-out nats/char", x -> new ArrayList<>())
                .add(loss);
          }
        }
      }
      table("shakespeare: held-out loss, nats per character", results, "%.4f");
    }
  }

  /**
   * Summed next-token NLL of {@code text} under {@code lm} over the characters of the predicted
   * tokens: windows of blockSize + 1 tokens overlapping by one, so every token but the first is
   * predicted once.
   */
  static double natsPerChar(LanguageModel lm, String text) {
    Tokenizer tok = lm.tokenizer();
    int[] ids = tok.encode(text);
    int block = lm.config().blockSize();
    double nats = 0;
    long chars = 0;
    for (int s = 0; s + 1 < ids.length; s += block) {
      int[] w = Arrays.copyOfRange(ids, s, Math.min(ids.length, s + block + 1));
      int[] in = Arrays.copyOf(w, w.length - 1);
      try (NDManager m = lm.model().getNDManager().newSubManager()) {
        NDArray logp = lm.logits(m, new int[][] {in}).logSoftmax(-1);
        float[] flat = logp.toFloatArray();
        int v = lm.vocabSize();
        for (int p = 0; p < in.length; p++) {
          nats -= flat[p * v + w[p + 1]];
        }
      }
      chars += tok.decode(Arrays.copyOfRange(w, 1, w.length)).length();
    }
    return nats / chars;
  }

  // ---------------------------------------------------------------- shared

  /** Labels sequences with the teacher's top-k + tail, through the offline codec. */
  private static List<Example> label(LocalOnPolicyTeacher scorer, List<int[]> seqs, String id) {
    List<Example> out = new ArrayList<>(seqs.size());
    for (int from = 0; from < seqs.size(); from += 64) {
      List<int[]> chunk = seqs.subList(from, Math.min(seqs.size(), from + 64));
      List<SoftLabels> labels = scorer.score(chunk);
      for (int i = 0; i < chunk.size(); i++) {
        SoftLabels l = SoftLabelCodec.decode(SoftLabelCodec.encode(labels.get(i)));
        out.add(new Example(id + "-" + (from + i), chunk.get(i), l, 1f));
      }
    }
    return out;
  }

  /** Trains {@code lm} on windows of the first 95% of {@code tokens}, validating on the rest. */
  private static dev.distill.trainer.training.TrainResult trainOnStream(
      LanguageModel lm, int[] tokens, TrainConfig tc, ProgressListener listener) {
    int cut = (int) (tokens.length * 0.95);
    int block = lm.config().blockSize();
    return TrainingLoop.run(
        lm,
        new TextWindows(Arrays.copyOfRange(tokens, 0, cut), block, tc.batchSize()),
        new TextWindows(Arrays.copyOfRange(tokens, cut, tokens.length), block, tc.batchSize()),
        tc,
        listener);
  }

  /** The teacher under {@code cache/<name>-<key>}: loaded when there, else trained and saved. */
  private static LanguageModel cachedTeacher(Opts o, String name, CharTokenizer tok, int[] tokens)
      throws IOException {
    GptConfig gc = o.model("teacher", tok.vocabSize());
    TrainConfig tc =
        o.train(o.i("teacher.steps"), o.i("teacher.batch"), o.f("teacher.lr"), o.i("data.seed"));
    String key =
        sha256(gc.toJson() + "|" + tc + "|" + tok.sha256() + "|" + sha256(Arrays.toString(tokens)))
            .substring(0, 16);
    Path dir = Path.of(o.s("cache")).resolve(name + "-teacher-" + key);
    if (Files.exists(dir.resolve(Checkpoints.MANIFEST))) {
      System.out.println("[evidence] cached teacher " + dir);
      return Checkpoints.load(dir);
    }
    System.out.printf(
        Locale.ROOT,
        "[evidence] training the %s teacher (%,d params, %d steps)%n",
        name,
        gc.parameterCount(),
        tc.steps());
    LanguageModel teacher = LanguageModel.create(gc, tok, o.i("data.seed"));
    long start = System.nanoTime();
    var r =
        trainOnStream(
            teacher,
            tokens,
            tc,
            (step, total, l, v, tps) -> {
              if (step % Math.max(1, total / 10) == 0) {
                System.out.printf(
                    Locale.ROOT, "[evidence] teacher step %d/%d loss %.4f%n", step, total, l);
              }
            });
    System.out.printf(
        Locale.ROOT,
        "[evidence] teacher val loss %.4f in %.0f s%n",
        r.finalValLoss(),
        (System.nanoTime() - start) / 1e9);
    Checkpoints.save(teacher, dir, Map.of("evidence.teacher", name));
    return teacher;
  }

  private static void table(
      String title, Map<String, Map<String, List<Double>>> results, String fmt) {
    List<String> metrics = new ArrayList<>();
    for (Map<String, List<Double>> m : results.values()) {
      for (String k : m.keySet()) {
        if (!metrics.contains(k)) {
          metrics.add(k);
        }
      }
    }
    System.out.println();
    System.out.println(title + ": mean +- sd over seeds (n per cell)");
    StringBuilder head = new StringBuilder("| method |");
    StringBuilder rule = new StringBuilder("|---|");
    for (String k : metrics) {
      head.append(' ').append(k).append(" |");
      rule.append("---|");
    }
    System.out.println(head);
    System.out.println(rule);
    for (Map.Entry<String, Map<String, List<Double>>> e : results.entrySet()) {
      StringBuilder row = new StringBuilder("| " + e.getKey() + " |");
      for (String k : metrics) {
        List<Double> v = e.getValue().getOrDefault(k, List.of());
        double mean = v.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        double var =
            v.stream().mapToDouble(x -> (x - mean) * (x - mean)).sum() / Math.max(1, v.size() - 1);
        row.append(' ')
            .append(
                String.format(
                    Locale.ROOT, fmt + " +- " + fmt + " (%d)", mean, Math.sqrt(var), v.size()))
            .append(" |");
      }
      System.out.println(row);
    }
  }

  private static String sha256(String s) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
      StringBuilder sb = new StringBuilder();
      for (byte b : d) {
        sb.append(String.format("%02x", b));
      }
      return sb.toString();
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
