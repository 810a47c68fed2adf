package dev.distill.deploy.pipeline;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.ToNumberPolicy;
import com.google.gson.reflect.TypeToken;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.gpt.PackedExport;
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
    long t = System.nanoTime();
    Path models = runDir.resolve("models");
    Path teacherDir = models.resolve("teacher");
    if (!Files.exists(teacherDir.resolve("manifest.json"))) {
      throw new IOException("no teacher checkpoint in " + teacherDir);
    }
    Map<String, Object> report = new LinkedHashMap<>();
    Map<String, Object> facts = readFacts(runDir);
    EvalResult teacherEval;
    List<EvalResult> students = new ArrayList<>();
    Map<String, TrainResult> curves = new LinkedHashMap<>();
    int heldOutTokens;
    Map<String, Object> cost = new LinkedHashMap<>();
    // Per slice (task, length bucket), from the same forward passes as the overall numbers.
    List<SliceMetrics.Row> slices = new ArrayList<>();
    try (LanguageModel teacher = Checkpoints.load(teacherDir)) {
      out.println("[eval] held-out text: " + heldOut.length + " tokens never seen by any stage");
      HeldOutEvaluator evaluator =
          new HeldOutEvaluator(teacher, heldOut, config.blockSize(), config.evalWindows(), 32);
      heldOutTokens = evaluator.tokens();
      SliceMetrics.Accumulator teacherSlices = slicesOf("teacher");
      teacherEval =
          evaluator.evaluate(
              "teacher", teacher, Checkpoints.sizeOnDisk(teacherDir), TASK, teacherSlices);
      slices.addAll(teacherSlices.rows());
      List<Path> studentDirs;
      try (Stream<Path> s = Files.list(models)) {
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
          students.add(evaluator.evaluate(name, s, Checkpoints.sizeOnDisk(dir), TASK, acc));
          slices.addAll(acc.rows());
        }
        Path curve = runDir.resolve(METRICS_DIR).resolve(name + ".json");
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
            LanguageModel random =
                LanguageModel.create(
                    (GptConfig) first.config(), first.tokenizer(), config.seed() + 99)) {
          SliceMetrics.Accumulator acc = slicesOf("random-init-student");
          students.add(evaluator.evaluate("random-init-student", random, 0, TASK, acc));
          slices.addAll(acc.rows());
        }
      }
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
    double evalSeconds = (System.nanoTime() - t) / 1e9;

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
              "loss", facts.getOrDefault("loss." + s.name(), null)));
    }
    report.put("students", rows);
    report.put(
        "eval",
        Facts.ordered("held_out_tokens", heldOutTokens, "units", "nats per token (character)"));
    report.put("cost", cost);
    report.put("slices", slicesJson(slices, heldOutTokens, arithmetic));
    for (Map.Entry<String, Object> e : facts.entrySet()) {
      if (!e.getKey().startsWith("loss.")) {
        report.put(e.getKey(), e.getValue());
      }
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> timings =
        new LinkedHashMap<>(
            (Map<String, Object>) report.getOrDefault("timings_seconds", new LinkedHashMap<>()));
    timings.put("eval", Math.round(evalSeconds * 10) / 10.0);
    if (pipelineStartNanos != null) {
      timings.put("total", Math.round((System.nanoTime() - pipelineStartNanos) / 1e8) / 10.0);
    }
    report.put("timings_seconds", timings);

    List<Gate.Outcome> outcomes = new ArrayList<>();
    Map<String, Double> metrics = metrics(teacherEval, students);
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
        new String[] {"cost", "soft_labels", "curation", "arithmetic", "timings_seconds"}) {
      Object v = report.get(key);
      if (v instanceof Map<?, ?> m) {
        Map<String, Object> sec = new LinkedHashMap<>();
        flatten("", m, sec);
        sections.put(key.replace('_', ' '), sec);
      }
    }
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
                slices)));
    printTable(out, teacherEval, students, facts);
    for (Gate.Outcome o : outcomes) {
      out.println("[gate] " + o);
    }
    out.println("report: " + json + " and " + html);
    return new Result(json, html, outcomes);
  }

  /** Task name of the held-out text in per-slice tables. */
  static final String TASK = "shakespeare";

  private static SliceMetrics.Accumulator slicesOf(String model) {
    return new SliceMetrics.Accumulator(model, SliceMetrics.LENGTH_BUCKETS);
  }

  /** report.json's {@code slices}: how they were cut, then one object per (model, slice). */
  private static Map<String, Object> slicesJson(
      List<SliceMetrics.Row> rows, int heldOutTokens, ArithmeticStage.SliceScores arithmetic) {
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
        Facts.ordered(
            TASK,
            Facts.ordered(
                "examples",
                rows.stream()
                    .filter(r -> r.task().equals(TASK) && r.lengthBucket().equals(SliceMetrics.ALL))
                    .findFirst()
                    .map(SliceMetrics.Row::examples)
                    .orElse(0L),
                "tokens",
                heldOutTokens),
            ArithmeticStage.TASK,
            Facts.ordered(
                "examples", arithmetic.examples(),
                "truncated_to_context", arithmetic.truncated())),
        "rows",
        out);
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
      PrintStream out, EvalResult teacher, List<EvalResult> students, Map<String, Object> facts) {
    out.println();
    out.printf(
        Locale.ROOT,
        "%-24s %10s %6s %12s %10s %10s %8s %12s%n",
        "model",
        "params",
        "bits/w",
        "val nats/ch",
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
