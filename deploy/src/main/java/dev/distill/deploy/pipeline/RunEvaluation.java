package dev.distill.deploy.pipeline;

import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.gpt.PackedExport;
import dev.distill.models.hf.HfConfig;
import dev.distill.models.hf.HfDecoder;
import dev.distill.models.tokenizer.Tokenizer;
import dev.distill.models.tokenizer.Tokenizers;
import dev.distill.trainer.evaluation.EvalResult;
import dev.distill.trainer.evaluation.GenerationSpeed;
import dev.distill.trainer.evaluation.HeldOutEvaluator;
import dev.distill.trainer.evaluation.SliceMetrics;
import dev.distill.trainer.training.TrainResult;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The evaluation over a run folder, as values: every model under {@code models/} (and {@code
 * subword/models/}) against its teacher on the held-out text, per-slice rows with the arithmetic
 * workload's, inference cost, and the flat metrics gates read. Writing it is the writers' job
 * ({@link ReportJson}, {@link ReportHtml}, {@link ReportConsole}).
 *
 * @param charRan whether the char workload ran (its models make the main table)
 * @param main the main table's workload: char when it ran, else subword
 * @param subword the subword workload, or null when it did not run
 * @param charsPerToken characters per scored BPE token of the held-out text (NaN without subword)
 * @param slices every per-slice row: main, subword, arithmetic
 * @param arithmetic the arithmetic workload's held-out slice scores (empty when it did not run)
 * @param time the evaluation stage's seconds and peak RSS
 */
record RunEvaluation(
    boolean charRan,
    TextEval main,
    TextEval subword,
    double charsPerToken,
    List<SliceMetrics.Row> slices,
    ArithmeticStage.SliceScores arithmetic,
    StageClock.StageTime time) {
  /** Task name of the held-out text in per-slice tables. */
  static final String TASK = "shakespeare";

  /**
   * One text workload's evaluation: its teacher and every model beside it, their curves, cost and
   * per-slice rows.
   */
  record TextEval(
      EvalResult teacher,
      List<EvalResult> students,
      Map<String, TrainResult> curves,
      Map<String, Object> cost,
      List<SliceMetrics.Row> slices,
      int heldOutTokens) {}

  /**
   * Evaluates the run in {@code runDir}; {@code heldOut} is the token stream no stage trained on.
   */
  static RunEvaluation evaluate(Path runDir, DemoConfig config, int[] heldOut, PrintStream out)
      throws IOException {
    StageClock.Running stage = new StageClock(out).start("eval");
    Path teacherDir = runDir.resolve("models").resolve("teacher");
    Path subwordDir = runDir.resolve(SubwordStage.DIR);
    boolean charRan = Files.exists(teacherDir.resolve("manifest.json"));
    boolean subwordRan = Files.exists(subwordDir.resolve("models/teacher/manifest.json"));
    if (!charRan && !subwordRan) {
      throw new IOException(
          "no teacher checkpoint in " + teacherDir + " nor in " + subwordDir.resolve("models"));
    }
    // The subword workload: its models against its teacher on the same held-out characters,
    // tokenized by its BPE tokenizer; losses per token and per character.
    TextEval subword = null;
    double charsPerToken = Double.NaN;
    if (subwordRan) {
      SubwordConfig w = config.subword();
      try (Tokenizer tok = Tokenizers.load(subwordDir.resolve("models/teacher"))) {
        int[] bpeHeldOut = SubwordStage.heldOutTokens(tok);
        charsPerToken =
            SubwordStage.charactersPerScoredToken(tok, bpeHeldOut, w.blockSize(), w.evalWindows());
        subword =
            evaluateText(
                subwordDir,
                bpeHeldOut,
                w.blockSize(),
                w.evalWindows(),
                SubwordStage.TASK,
                config,
                out);
      }
    }
    // The main table: the char workload's models when it ran, else the subword workload's.
    TextEval main =
        charRan
            ? evaluateText(
                runDir, heldOut, config.blockSize(), config.evalWindows(), TASK, config, out)
            : subword;
    List<SliceMetrics.Row> slices = new ArrayList<>(main.slices());
    if (charRan && subword != null) {
      slices.addAll(subword.slices());
    }
    long ta = System.nanoTime();
    ArithmeticStage.SliceScores arithmetic =
        ArithmeticStage.heldOutSlices(runDir, config, SliceMetrics.LENGTH_BUCKETS);
    slices.addAll(arithmetic.rows());
    if (arithmetic.examples() > 0) {
      out.printf(
          Locale.ROOT,
          "[eval] arithmetic slices: %d held-out problems (%d cut to the context), %.1f s%n",
          arithmetic.examples(),
          arithmetic.truncated(),
          (System.nanoTime() - ta) / 1e9);
    }
    return new RunEvaluation(
        charRan, main, subword, charsPerToken, List.copyOf(slices), arithmetic, stage.stop());
  }

  /** The main table's task name. */
  String mainTask() {
    return charRan ? TASK : SubwordStage.TASK;
  }

  /**
   * Flat metric names for gates: teacher.X, students.NAME.X, student.X for the first trained
   * student, subword.teacher.X and subword.students.NAME.X with val_loss_per_char beside each, and
   * the arithmetic facts' numbers (arithmetic.NAME.X).
   */
  Map<String, Double> metrics(PipelineFacts facts) {
    Map<String, Double> m = metrics(main.teacher(), main.students());
    if (subword != null) {
      put(m, "subword.teacher", subword.teacher());
      m.put("subword.teacher.val_loss_per_char", subword.teacher().valLoss() / charsPerToken);
      for (EvalResult r : subword.students()) {
        put(m, "subword.students." + r.name(), r);
        m.put("subword.students." + r.name() + ".val_loss_per_char", r.valLoss() / charsPerToken);
      }
    }
    if (facts.arithmetic() != null) {
      Map<String, Object> flat = new LinkedHashMap<>();
      flatten("arithmetic", RunReport.asMap(facts.arithmetic()), flat);
      flat.forEach(
          (k, v) -> {
            if (v instanceof Number n) {
              m.put(k.replace(".models.", "."), n.doubleValue());
            }
          });
    }
    return m;
  }

  /**
   * Every model under {@code workloadDir/models} (checkpoint or packed export; the teacher in
   * {@code teacher/}) against the teacher on {@code evalWindows} windows of {@code heldOut}, plus a
   * random-init copy of the first student's architecture as the floor.
   */
  static TextEval evaluateText(
      Path workloadDir,
      int[] heldOut,
      int blockSize,
      int evalWindows,
      String task,
      DemoConfig config,
      PrintStream out)
      throws IOException {
    Path modelsDir = workloadDir.resolve("models");
    Path metricsDir = workloadDir.resolve(RunReport.METRICS_DIR);
    long seed = config.seed();
    Path teacherDir = modelsDir.resolve("teacher");
    List<EvalResult> students = new ArrayList<>();
    Map<String, TrainResult> curves = new LinkedHashMap<>();
    Map<String, Object> cost = new LinkedHashMap<>();
    List<SliceMetrics.Row> slices = new ArrayList<>();
    EvalResult teacherEval;
    int heldOutTokens;
    try (LanguageModel teacher = Checkpoints.load(teacherDir)) {
      out.println(
          "[eval] "
              + task
              + " held-out text: "
              + heldOut.length
              + " tokens never seen by any stage");
      HeldOutEvaluator evaluator =
          new HeldOutEvaluator(teacher, heldOut, blockSize, evalWindows, 32);
      heldOutTokens = evaluator.tokens();
      SliceMetrics.Accumulator teacherSlices = slicesOf("teacher");
      teacherEval =
          evaluator.evaluate(
              "teacher", teacher, Checkpoints.sizeOnDisk(teacherDir), task, teacherSlices);
      slices.addAll(teacherSlices.rows());
      List<Path> studentDirs;
      try (Stream<Path> s = Files.list(modelsDir)) {
        studentDirs =
            s.filter(p -> !p.getFileName().toString().equals("teacher"))
                .filter(p -> Files.exists(p.resolve("manifest.json")))
                .sorted()
                .toList();
      }
      for (Path dir : studentDirs) {
        String name = dir.getFileName().toString();
        try (LanguageModel s = PackedExport.loadAny(dir)) {
          SliceMetrics.Accumulator acc = slicesOf(name);
          students.add(evaluator.evaluate(name, s, Checkpoints.sizeOnDisk(dir), task, acc));
          slices.addAll(acc.rows());
        }
        Path curve = metricsDir.resolve(name + ".json");
        if (Files.exists(curve)) {
          curves.put(name, RunReport.fromJson(Files.readString(curve), TrainResult.class));
        }
      }
      // Cost side by side in one run: analytic FLOPs and measured greedy decoding speed.
      int[] prompt = java.util.Arrays.copyOf(heldOut, Math.min(16, heldOut.length));
      cost.put("teacher", cost(teacher, prompt));
      for (Path dir : studentDirs) {
        try (LanguageModel s = PackedExport.loadAny(dir)) {
          cost.put(dir.getFileName().toString(), cost(s, prompt));
        }
      }
      // A floor for every number: the same student architecture with random weights.
      if (!studentDirs.isEmpty()) {
        try (LanguageModel first = PackedExport.loadAny(studentDirs.get(0));
            LanguageModel random = randomLike(first, seed + 99)) {
          SliceMetrics.Accumulator acc = slicesOf("random-init-student");
          students.add(evaluator.evaluate("random-init-student", random, 0, task, acc));
          slices.addAll(acc.rows());
        }
      }
    }
    return new TextEval(teacherEval, students, curves, cost, slices, heldOutTokens);
  }

  /** A dense model of {@code model}'s architecture and tokenizer with weights drawn from seed. */
  private static LanguageModel randomLike(LanguageModel model, long seed) {
    if (model.config() instanceof GptConfig g) {
      return LanguageModel.create(g, model.tokenizer(), seed);
    }
    if (model.config() instanceof HfConfig h) {
      return LanguageModel.create(new HfDecoder(h), model.tokenizer(), seed);
    }
    throw new IllegalArgumentException("no random-init baseline for " + model.config());
  }

  private static SliceMetrics.Accumulator slicesOf(String model) {
    return new SliceMetrics.Accumulator(model, SliceMetrics.LENGTH_BUCKETS);
  }

  private static Map<String, Object> cost(LanguageModel m, int[] prompt) {
    GenerationSpeed.Result r = GenerationSpeed.measure(m, prompt, 48, 3);
    return Facts.ordered(
        "params", m.config().parameterCount(),
        "flops_per_token", GenerationSpeed.flopsPerToken(m.config()),
        "generation_tokens_per_second", Math.round(r.tokensPerSecond()),
        "latency_ms_p50", round(r.p50Millis()),
        "latency_ms_p95", round(r.p95Millis()));
  }

  /** Flat metric names for gates: teacher.X, students.NAME.X, and student.X for the first one. */
  static Map<String, Double> metrics(EvalResult teacher, List<EvalResult> students) {
    Map<String, Double> m = new LinkedHashMap<>();
    put(m, "teacher", teacher);
    for (EvalResult s : students) {
      put(m, "students." + s.name(), s);
    }
    students.stream()
        .filter(s -> !s.name().equals("random-init-student"))
        .findFirst()
        .ifPresent(s -> put(m, "student", s));
    return m;
  }

  private static void put(Map<String, Double> m, String prefix, EvalResult r) {
    m.put(prefix + ".val_loss", r.valLoss());
    m.put(prefix + ".perplexity", r.perplexity());
    m.put(prefix + ".top1_agreement", r.top1Agreement());
    m.put(prefix + ".kl_teacher_student", r.klTeacherStudent());
    m.put(prefix + ".reverse_kl", r.reverseKl());
    m.put(prefix + ".jsd", r.jsd());
    m.put(prefix + ".ece", r.calibration().ece());
    m.put(prefix + ".params", (double) r.params());
    m.put(prefix + ".bytes_on_disk", (double) r.bytesOnDisk());
  }

  /** Nested maps and lists as dotted keys, for the report's key/value tables. */
  static void flatten(String prefix, Object v, Map<String, Object> out) {
    if (v instanceof Map<?, ?> m) {
      for (Map.Entry<?, ?> e : m.entrySet()) {
        flatten(
            prefix.isEmpty() ? String.valueOf(e.getKey()) : prefix + "." + e.getKey(),
            e.getValue(),
            out);
      }
    } else if (v instanceof List<?> l) {
      for (int i = 0; i < l.size(); i++) {
        Object item = l.get(i);
        String name =
            item instanceof Map<?, ?> m && m.get("name") != null
                ? String.valueOf(m.get("name"))
                : Integer.toString(i);
        flatten(
            prefix + "." + name, item instanceof Map<?, ?> m2 ? without(m2, "name") : item, out);
      }
    } else {
      out.put(prefix, v);
    }
  }

  private static Map<?, ?> without(Map<?, ?> m, String key) {
    Map<Object, Object> copy = new LinkedHashMap<>(m);
    copy.remove(key);
    return copy;
  }

  private static double round(double v) {
    return Math.round(v * 10000) / 10000.0;
  }
}
