package dev.distill.deploy.pipeline;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.ToNumberPolicy;
import com.google.gson.reflect.TypeToken;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.gpt.PackedExport;
import dev.distill.models.hf.HfConfig;
import dev.distill.models.hf.HfDecoder;
import dev.distill.models.tokenizer.Tokenizer;
import dev.distill.models.tokenizer.Tokenizers;
import dev.distill.trainer.evaluation.EvalResult;
import dev.distill.trainer.evaluation.Gate;
import dev.distill.trainer.evaluation.GenerationSpeed;
import dev.distill.trainer.evaluation.HeldOutEvaluator;
import dev.distill.trainer.evaluation.SliceMetrics;
import dev.distill.trainer.report.HtmlReport;
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
 * The evaluation stage over a run folder: every model under {@code models/} against the teacher on
 * the held-out text, then {@code report.json}, {@code report.html} and the gates. Used by {@code
 * distill demo} at its end and by {@code distill eval} on a finished run.
 */
public final class RunReport {
  static final String PIPELINE_FACTS = "pipeline.json";
  static final String METRICS_DIR = "metrics";
  private static final Gson GSON =
      new GsonBuilder()
          .setPrettyPrinting()
          .serializeNulls()
          // A NaN metric is written as NaN rather than failing the whole run at its last step.
          .serializeSpecialFloatingPointValues()
          // Facts read back from pipeline.json keep their counts integers (280, not 280.0, in
          // report.json: issue 17); Gson's default reads every JSON number as a double.
          .setObjectToNumberStrategy(ToNumberPolicy.LONG_OR_DOUBLE)
          .create();

  /** What the stage produced. */
  public record Result(Path reportJson, Path reportHtml, List<Gate.Outcome> gates) {
    public boolean gatesPassed() {
      return gates.stream().allMatch(Gate.Outcome::passed);
    }
  }

  private RunReport() {}

  /** Writes a model's training curve where {@link #write} finds it. */
  static void saveCurve(Path runDir, String name, TrainResult r) throws IOException {
    Files.createDirectories(runDir.resolve(METRICS_DIR));
    Files.writeString(runDir.resolve(METRICS_DIR).resolve(name + ".json"), GSON.toJson(r));
  }

  /**
   * Evaluates and writes the report. {@code heldOut} is the token stream no stage trained on.
   *
   * @param gates gate expressions
   * @param pipelineStartNanos start of the whole run, for timings_seconds.total; null for none
   */
  public static Result write(
      Path runDir,
      DemoConfig config,
      int[] heldOut,
      List<String> gates,
      Long pipelineStartNanos,
      PrintStream out)
      throws IOException {
    List<Gate> parsed = gates.stream().map(Gate::parse).toList();
    StageClock.Running evalStage = new StageClock(out).start("eval");
    Path models = runDir.resolve("models");
    Path teacherDir = models.resolve("teacher");
    Path subwordDir = runDir.resolve(SubwordStage.DIR);
    boolean charRan = Files.exists(teacherDir.resolve("manifest.json"));
    boolean subwordRan = Files.exists(subwordDir.resolve("models/teacher/manifest.json"));
    if (!charRan && !subwordRan) {
      throw new IOException(
          "no teacher checkpoint in " + teacherDir + " nor in " + subwordDir.resolve("models"));
    }
    Map<String, Object> report = new LinkedHashMap<>();
    Map<String, Object> facts = readFacts(runDir);
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
                subwordDir.resolve("models"),
                subwordDir.resolve(METRICS_DIR),
                bpeHeldOut,
                w.blockSize(),
                w.evalWindows(),
                SubwordStage.TASK,
                config.seed(),
                out);
      }
    }
    // The main table: the char workload's models when it ran, else the subword workload's.
    TextEval main =
        charRan
            ? evaluateText(
                models,
                runDir.resolve(METRICS_DIR),
                heldOut,
                config.blockSize(),
                config.evalWindows(),
                TASK,
                config.seed(),
                out)
            : subword;
    String mainTask = charRan ? TASK : SubwordStage.TASK;
    EvalResult teacherEval = main.teacher();
    List<EvalResult> students = main.students();
    Map<String, TrainResult> curves = main.curves();
    int heldOutTokens = main.heldOutTokens();
    Map<String, Object> cost = main.cost();
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
    StageClock.StageTime evalTime = evalStage.stop();

    report.put("run_id", config.runId());
    report.put(
        "teacher",
        Facts.ordered(
            "params", teacherEval.params(),
            "val_loss", round(teacherEval.valLoss()),
            "top1_agreement", round(teacherEval.top1Agreement()),
            "ece", round(teacherEval.calibration().ece()),
            "bytes_on_disk", teacherEval.bytesOnDisk()));
    List<Map<String, Object>> rows = new ArrayList<>();
    for (EvalResult s : students) {
      TrainResult tr = curves.get(s.name());
      rows.add(
          Facts.ordered(
              "name", s.name(),
              "params", s.params(),
              "bits_per_weight", bitsPerWeight(facts, s.name()),
              "val_loss", round(s.valLoss()),
              "perplexity", round(s.perplexity()),
              "top1_agreement", round(s.top1Agreement()),
              "kl_teacher_student", round(s.klTeacherStudent()),
              "reverse_kl", round(s.reverseKl()),
              "jsd", round(s.jsd()),
              "ece", round(s.calibration().ece()),
              "bytes_on_disk", s.bytesOnDisk(),
              "compression_vs_teacher",
                  s.bytesOnDisk() == 0
                      ? null
                      : round((double) teacherEval.bytesOnDisk() / s.bytesOnDisk()),
              "train_tokens_per_second", tr == null ? null : Math.round(tr.tokensPerSecond()),
              "loss",
                  charRan
                      ? facts.getOrDefault("loss." + s.name(), null)
                      : subwordLoss(facts, s.name())));
    }
    report.put("students", rows);
    report.put(
        "eval",
        Facts.ordered(
            "workload",
            charRan ? DemoConfig.CHAR : DemoConfig.BPE,
            "held_out_tokens",
            heldOutTokens,
            "units",
            charRan
                ? "nats per token (character)"
                : "nats per token (BPE token); per character in subword.students"));
    report.put("cost", cost);
    Map<String, Integer> textTasks = new LinkedHashMap<>();
    textTasks.put(mainTask, heldOutTokens);
    if (charRan && subword != null) {
      textTasks.put(SubwordStage.TASK, subword.heldOutTokens());
    }
    report.put("slices", slicesJson(slices, textTasks, arithmetic));
    for (Map.Entry<String, Object> e : facts.entrySet()) {
      if (!e.getKey().startsWith("loss.")) {
        report.put(e.getKey(), e.getValue());
      }
    }
    if (subword != null) {
      report.put(SubwordStage.DIR, subwordSection(facts, subword, charsPerToken));
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> timings =
        new LinkedHashMap<>(
            (Map<String, Object>) report.getOrDefault("timings_seconds", new LinkedHashMap<>()));
    timings.put("eval", evalTime.seconds());
    if (pipelineStartNanos != null) {
      timings.put("total", Math.round((System.nanoTime() - pipelineStartNanos) / 1e8) / 10.0);
    }
    report.put("timings_seconds", timings);
    List<StageClock.StageTime> stages = new ArrayList<>(stagesOf(facts));
    stages.removeIf(s -> s.name().equals("eval")); // a re-evaluation replaces the last one
    stages.add(evalTime);
    report.put("stages", stages);

    List<Gate.Outcome> outcomes = new ArrayList<>();
    Map<String, Double> metrics = metrics(teacherEval, students);
    if (subword != null) {
      // subword.teacher.X, subword.students.NAME.X, and the per-character loss beside each
      put(metrics, "subword.teacher", subword.teacher());
      metrics.put("subword.teacher.val_loss_per_char", subword.teacher().valLoss() / charsPerToken);
      for (EvalResult r : subword.students()) {
        put(metrics, "subword.students." + r.name(), r);
        metrics.put(
            "subword.students." + r.name() + ".val_loss_per_char", r.valLoss() / charsPerToken);
      }
    }
    Map<String, Object> flat = new LinkedHashMap<>();
    if (facts.get("arithmetic") != null) {
      flatten("arithmetic", facts.get("arithmetic"), flat);
    }
    flat.forEach(
        (k, v) -> {
          if (v instanceof Number n) {
            metrics.put(k.replace(".models.", "."), n.doubleValue());
          }
        });
    for (Gate g : parsed) {
      outcomes.add(g.evaluate(metrics));
    }
    if (!outcomes.isEmpty()) {
      report.put(
          "gates",
          outcomes.stream()
              .map(o -> Facts.ordered("gate", o.gate(), "passed", o.passed()))
              .toList());
    }
    Path json = runDir.resolve("report.json");
    Files.writeString(json, GSON.toJson(report));
    Map<String, Map<String, Object>> sections = new LinkedHashMap<>();
    for (String key :
        new String[] {
          "soft_labels", "curation", SubwordStage.DIR, "arithmetic", "timings_seconds"
        }) {
      Object v = report.get(key);
      if (v instanceof Map<?, ?> m) {
        Map<String, Object> sec = new LinkedHashMap<>();
        if (key.equals(SubwordStage.DIR)) {
          // its teacher and students have their own table in the page; the rest stays key/value
          Map<Object, Object> rest = new LinkedHashMap<>(m);
          rest.keySet().removeAll(List.of("teacher", "students"));
          m = rest;
        }
        flatten("", m, sec);
        sections.put(key.replace('_', ' '), sec);
      }
    }
    Map<String, Object> stageRows = new LinkedHashMap<>();
    for (StageClock.StageTime st : stages) {
      stageRows.put(
          st.name(),
          String.format(
              Locale.ROOT,
              "%.1f s, peak RSS %.1f MB (%s)",
              st.seconds(),
              st.peakRssMb(),
              st.peakRssSource()));
    }
    sections.put("stages", stageRows);
    sections.put("configuration", new LinkedHashMap<>(config.toMap()));
    Path html = runDir.resolve("report.html");
    Files.writeString(
        html,
        HtmlReport.render(
            new HtmlReport.Input(
                "distill report: run " + config.runId(),
                teacherEval,
                students,
                curves,
                sections,
                outcomes,
                compressionOf(facts),
                slices,
                costTable(cost),
                subword == null
                    ? null
                    : new HtmlReport.Subword(
                        subword.teacher(), subword.students(), charsPerToken))));
    printTable(out, teacherEval, students, facts, charRan ? "val nats/ch" : "val nats/tok");
    if (subword != null) {
      printSubwordTable(out, subword, charsPerToken);
    }
    for (Gate.Outcome o : outcomes) {
      out.println("[gate] " + o);
    }
    out.println("report: " + json + " and " + html);
    return new Result(json, html, outcomes);
  }

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
   * Every model under {@code modelsDir} (checkpoint or packed export; the teacher in {@code
   * teacher/}) against the teacher on {@code evalWindows} windows of {@code heldOut}, plus a
   * random-init copy of the first student's architecture as the floor.
   */
  static TextEval evaluateText(
      Path modelsDir,
      Path metricsDir,
      int[] heldOut,
      int blockSize,
      int evalWindows,
      String task,
      long seed,
      PrintStream out)
      throws IOException {
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
          curves.put(name, GSON.fromJson(Files.readString(curve), TrainResult.class));
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

  /** Task name of the held-out text in per-slice tables. */
  static final String TASK = "shakespeare";

  private static SliceMetrics.Accumulator slicesOf(String model) {
    return new SliceMetrics.Accumulator(model, SliceMetrics.LENGTH_BUCKETS);
  }

  /** report.json's {@code slices}: how they were cut, then one object per (model, slice). */
  private static Map<String, Object> slicesJson(
      List<SliceMetrics.Row> rows,
      Map<String, Integer> textTasks,
      ArithmeticStage.SliceScores arithmetic) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (SliceMetrics.Row r : rows) {
      out.add(
          Facts.ordered(
              "task", r.task(),
              "length_bucket", r.lengthBucket(),
              "model", r.model(),
              "examples", r.examples(),
              "tokens", r.tokens(),
              "loss", round(r.loss()),
              "top1_agreement", round(r.top1Agreement()),
              "kl_teacher_student", round(r.forwardKl()),
              "ece", round(r.ece())));
    }
    return Facts.ordered(
        "length_buckets",
        java.util.Arrays.stream(SliceMetrics.LENGTH_BUCKETS).boxed().toList(),
        "convention",
        "length = scored positions of an example, buckets [0,64) [64,256) [256,1024) [1024,inf)"
            + " as spark-jobs EvalJob; loss in nats per token, KL(teacher || model) at T = 1,"
            + " means weighted by tokens; each task against its own teacher",
        "tasks",
        tasks(rows, textTasks, arithmetic),
        "rows",
        out);
  }

  /** Examples and tokens per task of the slices table. */
  private static Map<String, Object> tasks(
      List<SliceMetrics.Row> rows,
      Map<String, Integer> textTasks,
      ArithmeticStage.SliceScores arithmetic) {
    Map<String, Object> tasks = new LinkedHashMap<>();
    for (Map.Entry<String, Integer> e : textTasks.entrySet()) {
      tasks.put(
          e.getKey(),
          Facts.ordered(
              "examples",
              rows.stream()
                  .filter(
                      r -> r.task().equals(e.getKey()) && r.lengthBucket().equals(SliceMetrics.ALL))
                  .findFirst()
                  .map(SliceMetrics.Row::examples)
                  .orElse(0L),
              "tokens",
              e.getValue()));
    }
    tasks.put(
        ArithmeticStage.TASK,
        Facts.ordered(
            "examples", arithmetic.examples(), "truncated_to_context", arithmetic.truncated()));
    return tasks;
  }

  /** The KD loss description of a subword student, from the pipeline's facts. */
  private static Object subwordLoss(Map<String, Object> facts, String name) {
    if (facts.get(SubwordStage.DIR) instanceof Map<?, ?> sw
        && sw.get("losses") instanceof Map<?, ?> losses) {
      return losses.get(name);
    }
    return null;
  }

  /**
   * report.json's {@code subword}: the pipeline's facts (tokenizer, soft labels, curation, HF
   * export, timings) with the evaluation: teacher and students in nats per BPE token and per
   * character (per token / characters per scored token, so comparable with the char workload).
   */
  private static Map<String, Object> subwordSection(
      Map<String, Object> facts, TextEval sw, double charsPerToken) {
    Map<String, Object> section = new LinkedHashMap<>();
    if (facts.get(SubwordStage.DIR) instanceof Map<?, ?> m) {
      m.forEach((k, v) -> section.put(String.valueOf(k), v));
    }
    section.put(
        "eval",
        Facts.ordered(
            "held_out_tokens", sw.heldOutTokens(),
            "characters_per_token", round(charsPerToken),
            "units",
                "val_loss in nats per BPE token, val_loss_per_char in nats per character;"
                    + " KL(teacher || model) at T = 1 per token"));
    section.put("teacher", subwordRow(sw.teacher(), sw.teacher(), charsPerToken, null, null));
    List<Map<String, Object>> rows = new ArrayList<>();
    for (EvalResult s : sw.students()) {
      rows.add(
          subwordRow(
              s,
              sw.teacher(),
              charsPerToken,
              sw.curves().get(s.name()),
              subwordLoss(facts, s.name())));
    }
    section.put("students", rows);
    return section;
  }

  private static Map<String, Object> subwordRow(
      EvalResult r, EvalResult teacher, double charsPerToken, TrainResult tr, Object loss) {
    return Facts.ordered(
        "name", r.name(),
        "params", r.params(),
        "params_vs_teacher", round((double) r.params() / teacher.params()),
        "val_loss", round(r.valLoss()),
        "val_loss_per_char", round(r.valLoss() / charsPerToken),
        "top1_agreement", round(r.top1Agreement()),
        "kl_teacher_student", round(r.klTeacherStudent()),
        "ece", round(r.calibration().ece()),
        "bytes_on_disk", r.bytesOnDisk(),
        "train_tokens_per_second", tr == null ? null : Math.round(tr.tokensPerSecond()),
        "loss", loss);
  }

  private static void printSubwordTable(PrintStream out, TextEval sw, double charsPerToken) {
    out.println();
    out.printf(
        Locale.ROOT,
        "%-24s %10s %12s %12s %10s %10s %12s%n",
        "subword model (Llama)",
        "params",
        "val nats/tok",
        "val nats/ch",
        "top1 agr",
        "KL(T||S)",
        "disk bytes");
    for (EvalResult r : Stream.concat(Stream.of(sw.teacher()), sw.students().stream()).toList()) {
      out.printf(
          Locale.ROOT,
          "%-24s %,10d %12.4f %12.4f %10.4f %10.4f %,12d%n",
          r.name(),
          r.params(),
          r.valLoss(),
          r.valLoss() / charsPerToken,
          r.top1Agreement(),
          r.klTeacherStudent(),
          r.bytesOnDisk());
    }
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

  /** report.json's {@code cost} (model -> metrics) as the HTML cost table's rows. */
  static Map<String, Map<String, Object>> costTable(Map<String, Object> cost) {
    Map<String, Map<String, Object>> rows = new LinkedHashMap<>();
    for (Map.Entry<String, Object> e : cost.entrySet()) {
      if (e.getValue() instanceof Map<?, ?> m) {
        Map<String, Object> row = new LinkedHashMap<>();
        m.forEach((k, v) -> row.put(String.valueOf(k), v));
        rows.put(e.getKey(), row);
      }
    }
    return rows;
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

  /** report.json's text for {@code report}, as {@link #write} writes it. */
  static String toJson(Object report) {
    return GSON.toJson(report);
  }

  /** The stages a run recorded in pipeline.json (none for a run written before they were). */
  static List<StageClock.StageTime> stagesOf(Map<String, Object> facts) {
    Object raw = facts.get("stages");
    if (raw == null) {
      return List.of();
    }
    List<StageClock.StageTime> stages =
        GSON.fromJson(
            GSON.toJsonTree(raw), new TypeToken<List<StageClock.StageTime>>() {}.getType());
    return stages == null ? List.of() : stages;
  }

  static void writeFacts(Path runDir, Map<String, Object> facts) throws IOException {
    Files.writeString(runDir.resolve(PIPELINE_FACTS), GSON.toJson(facts));
  }

  static Map<String, Object> readFacts(Path runDir) throws IOException {
    Path p = runDir.resolve(PIPELINE_FACTS);
    if (!Files.exists(p)) {
      return new LinkedHashMap<>();
    }
    Map<String, Object> m =
        GSON.fromJson(
            Files.readString(p), new TypeToken<LinkedHashMap<String, Object>>() {}.getType());
    return m == null ? new LinkedHashMap<>() : m;
  }

  private static void printTable(
      PrintStream out,
      EvalResult teacher,
      List<EvalResult> students,
      Map<String, Object> facts,
      String lossHeader) {
    out.println();
    out.printf(
        Locale.ROOT,
        "%-24s %10s %6s %12s %10s %10s %8s %12s%n",
        "model",
        "params",
        "bits/w",
        lossHeader,
        "top1 agr",
        "KL(T||S)",
        "ECE",
        "disk bytes");
    for (EvalResult r : Stream.concat(Stream.of(teacher), students.stream()).toList()) {
      out.printf(
          Locale.ROOT,
          "%-24s %,10d %6.2f %12.4f %10.4f %10.4f %8.4f %,12d%n",
          r.name(),
          r.params(),
          bitsPerWeight(facts, r.name()),
          r.valLoss(),
          r.top1Agreement(),
          r.klTeacherStudent(),
          r.calibration().ece(),
          r.bytesOnDisk());
    }
  }

  /**
   * Payload bits per block linear weight of a compressed student (from the training facts), 32 for
   * a dense float32 one.
   */
  private static double bitsPerWeight(Map<String, Object> facts, String name) {
    if (facts.get("compression") instanceof Map<?, ?> c
        && c.get(name) instanceof Map<?, ?> m
        && m.get("bits_per_weight") instanceof Number n) {
      return n.doubleValue();
    }
    return 32.0;
  }

  /** The compressed students' facts (written by the pipeline) for the report's charts. */
  private static Map<String, HtmlReport.Compressed> compressionOf(Map<String, Object> facts) {
    Map<String, HtmlReport.Compressed> out = new LinkedHashMap<>();
    if (!(facts.get("compression") instanceof Map<?, ?> all)) {
      return out;
    }
    for (Map.Entry<?, ?> e : all.entrySet()) {
      if (!(e.getValue() instanceof Map<?, ?> m)) {
        continue;
      }
      List<String> layers = new ArrayList<>();
      List<Double> sparsity = new ArrayList<>();
      if (m.get("layers") instanceof List<?> ls) {
        for (Object o : ls) {
          if (o instanceof Map<?, ?> l) {
            layers.add(String.valueOf(l.get("layer")));
            sparsity.add(((Number) l.get("sparsity")).doubleValue());
          }
        }
      }
      List<Double> steps = new ArrayList<>();
      List<Double> bits = new ArrayList<>();
      if (m.get("bits_per_weight_over_training") instanceof List<?> curve) {
        for (Object o : curve) {
          if (o instanceof List<?> p && p.size() == 2) {
            steps.add(((Number) p.get(0)).doubleValue());
            bits.add(((Number) p.get(1)).doubleValue());
          }
        }
      }
      out.put(
          String.valueOf(e.getKey()),
          new HtmlReport.Compressed(
              ((Number) m.get("bits_per_weight")).doubleValue(),
              layers,
              sparsity.stream().mapToDouble(Double::doubleValue).toArray(),
              steps.stream().mapToDouble(Double::doubleValue).toArray(),
              bits.stream().mapToDouble(Double::doubleValue).toArray()));
    }
    return out;
  }

  private static double round(double v) {
    return Math.round(v * 10000) / 10000.0;
  }
}
