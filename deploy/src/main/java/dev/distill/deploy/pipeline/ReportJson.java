package dev.distill.deploy.pipeline;

import com.google.gson.annotations.SerializedName;
import dev.distill.deploy.pipeline.RunEvaluation.TextEval;
import dev.distill.trainer.evaluation.EvalResult;
import dev.distill.trainer.evaluation.Gate;
import dev.distill.trainer.evaluation.SliceMetrics;
import dev.distill.trainer.training.TrainResult;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * report.json: the evaluation, the pipeline's facts and the gates as one JSON object, through Gson
 * ({@link RunReport#toJson}). Key names are a contract (tests, READMEs and {@code docs/} read
 * them); counts are integers, losses rounded to four places.
 */
final class ReportJson {
  private ReportJson() {}

  /** The report's object, keys in the order a reader meets them. */
  static Map<String, Object> of(
      RunEvaluation ev,
      PipelineFacts facts,
      DemoConfig config,
      List<Gate.Outcome> outcomes,
      Long pipelineStartNanos) {
    EvalResult teacherEval = ev.main().teacher();
    Map<String, TrainResult> curves = ev.main().curves();
    Map<String, Object> report = new LinkedHashMap<>();
    report.put("run_id", config.runId());
    report.put(
        "teacher",
        new TeacherRow(
            teacherEval.params(),
            round(teacherEval.valLoss()),
            round(teacherEval.top1Agreement()),
            round(teacherEval.calibration().ece()),
            teacherEval.bytesOnDisk()));
    Map<String, String> losses =
        ev.charRan() || facts.subword() == null ? facts.losses() : facts.subword().losses();
    List<StudentRow> rows = new ArrayList<>();
    for (EvalResult s : ev.main().students()) {
      TrainResult tr = curves.get(s.name());
      rows.add(
          new StudentRow(
              s.name(),
              s.params(),
              facts.bitsPerWeight(s.name()),
              round(s.valLoss()),
              round(s.perplexity()),
              round(s.top1Agreement()),
              round(s.klTeacherStudent()),
              round(s.reverseKl()),
              round(s.jsd()),
              round(s.calibration().ece()),
              s.bytesOnDisk(),
              s.bytesOnDisk() == 0
                  ? null
                  : round((double) teacherEval.bytesOnDisk() / s.bytesOnDisk()),
              tokensPerSecond(tr),
              losses.get(s.name())));
    }
    report.put("students", rows);
    report.put(
        "eval",
        Facts.ordered(
            "workload",
            ev.charRan() ? DemoConfig.CHAR : DemoConfig.BPE,
            "held_out_tokens",
            ev.main().heldOutTokens(),
            "units",
            ev.charRan()
                ? "nats per token (character)"
                : "nats per token (BPE token); per character in subword.students"));
    report.put("cost", ev.main().cost());
    Map<String, Integer> textTasks = new LinkedHashMap<>();
    textTasks.put(ev.mainTask(), ev.main().heldOutTokens());
    if (ev.charRan() && ev.subword() != null) {
      textTasks.put(SubwordStage.TASK, ev.subword().heldOutTokens());
    }
    report.put("slices", slicesJson(ev.slices(), textTasks, ev.arithmetic()));
    putIfPresent(report, "soft_labels", facts.softLabels());
    putIfPresent(report, "curation", facts.curation());
    if (!facts.compression().isEmpty()) {
      report.put("compression", facts.compression());
    }
    if (ev.subword() != null) {
      report.put(SubwordStage.DIR, subwordSection(facts, ev.subword(), ev.charsPerToken()));
    }
    if (facts.arithmetic() != null) {
      // The keys of the workload's outcome only: a step that did not run leaves no null behind.
      Map<String, Object> arithmetic = RunReport.asMap(facts.arithmetic());
      arithmetic.values().removeIf(Objects::isNull);
      report.put("arithmetic", arithmetic);
    }
    Map<String, Object> timings = new LinkedHashMap<>(facts.timingsSeconds());
    timings.put("eval", ev.time().seconds());
    if (pipelineStartNanos != null) {
      timings.put("total", Math.round((System.nanoTime() - pipelineStartNanos) / 1e8) / 10.0);
    }
    report.put("timings_seconds", timings);
    report.put("stages", stages(facts, ev));
    if (!outcomes.isEmpty()) {
      report.put("gates", outcomes.stream().map(o -> new GateRow(o.gate(), o.passed())).toList());
    }
    return report;
  }

  /** The pipeline's stages, then this evaluation (which replaces an earlier one's). */
  static List<StageClock.StageTime> stages(PipelineFacts facts, RunEvaluation ev) {
    List<StageClock.StageTime> stages = new ArrayList<>(facts.stages());
    stages.removeIf(s -> s.name().equals("eval"));
    stages.add(ev.time());
    return stages;
  }

  private static void putIfPresent(Map<String, Object> report, String key, Object value) {
    if (value != null) {
      report.put(key, value);
    }
  }

  /** report.json's {@code slices}: how they were cut, then one object per (model, slice). */
  private static Map<String, Object> slicesJson(
      List<SliceMetrics.Row> rows,
      Map<String, Integer> textTasks,
      ArithmeticStage.SliceScores arithmetic) {
    List<SliceRow> out = new ArrayList<>();
    for (SliceMetrics.Row r : rows) {
      out.add(
          new SliceRow(
              r.task(),
              r.lengthBucket(),
              r.model(),
              r.examples(),
              r.tokens(),
              round(r.loss()),
              round(r.top1Agreement()),
              round(r.forwardKl()),
              round(r.ece())));
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

  /**
   * report.json's {@code subword}: the pipeline's facts (tokenizer, soft labels, curation, HF
   * export, timings) with the evaluation: teacher and students in nats per BPE token and per
   * character (per token / characters per scored token, so comparable with the char workload).
   */
  private static Map<String, Object> subwordSection(
      PipelineFacts facts, TextEval sw, double charsPerToken) {
    Map<String, Object> section = new LinkedHashMap<>();
    if (facts.subword() != null) {
      // the workload's facts under their own keys (tokenizer, soft_labels, curation, ...)
      section.putAll(RunReport.asMap(facts.subword()));
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
    List<SubwordRow> rows = new ArrayList<>();
    for (EvalResult s : sw.students()) {
      rows.add(
          subwordRow(
              s,
              sw.teacher(),
              charsPerToken,
              sw.curves().get(s.name()),
              facts.subword() == null ? null : facts.subword().losses().get(s.name())));
    }
    section.put("students", rows);
    return section;
  }

  private static SubwordRow subwordRow(
      EvalResult r, EvalResult teacher, double charsPerToken, TrainResult tr, String loss) {
    return new SubwordRow(
        r.name(),
        r.params(),
        round((double) r.params() / teacher.params()),
        round(r.valLoss()),
        round(r.valLoss() / charsPerToken),
        round(r.top1Agreement()),
        round(r.klTeacherStudent()),
        round(r.calibration().ece()),
        r.bytesOnDisk(),
        tokensPerSecond(tr),
        loss);
  }

  private static Long tokensPerSecond(TrainResult tr) {
    return tr == null ? null : Math.round(tr.tokensPerSecond());
  }

  // The rows of report.json, serialised by Gson: the field names (or @SerializedName) are the
  // JSON keys, in declaration order; null fields are written as null (RunReport serialises nulls).

  /** {@code teacher}. */
  record TeacherRow(
      long params,
      @SerializedName("val_loss") double valLoss,
      @SerializedName("top1_agreement") double top1Agreement,
      double ece,
      @SerializedName("bytes_on_disk") long bytesOnDisk) {}

  /** One of {@code students}: a student of the main workload against its teacher. */
  record StudentRow(
      String name,
      long params,
      @SerializedName("bits_per_weight") double bitsPerWeight,
      @SerializedName("val_loss") double valLoss,
      double perplexity,
      @SerializedName("top1_agreement") double top1Agreement,
      @SerializedName("kl_teacher_student") double klTeacherStudent,
      @SerializedName("reverse_kl") double reverseKl,
      double jsd,
      double ece,
      @SerializedName("bytes_on_disk") long bytesOnDisk,
      @SerializedName("compression_vs_teacher") Double compressionVsTeacher,
      @SerializedName("train_tokens_per_second") Long trainTokensPerSecond,
      String loss) {}

  /** One of {@code slices.rows}: a model on one task's length bucket. */
  record SliceRow(
      String task,
      @SerializedName("length_bucket") String lengthBucket,
      String model,
      long examples,
      long tokens,
      double loss,
      @SerializedName("top1_agreement") double top1Agreement,
      @SerializedName("kl_teacher_student") double klTeacherStudent,
      double ece) {}

  /** {@code subword.teacher} and each of {@code subword.students}, per token and per character. */
  record SubwordRow(
      String name,
      long params,
      @SerializedName("params_vs_teacher") double paramsVsTeacher,
      @SerializedName("val_loss") double valLoss,
      @SerializedName("val_loss_per_char") double valLossPerChar,
      @SerializedName("top1_agreement") double top1Agreement,
      @SerializedName("kl_teacher_student") double klTeacherStudent,
      double ece,
      @SerializedName("bytes_on_disk") long bytesOnDisk,
      @SerializedName("train_tokens_per_second") Long trainTokensPerSecond,
      String loss) {}

  /** One of {@code gates}. */
  record GateRow(String gate, boolean passed) {}

  private static double round(double v) {
    return Math.round(v * 10000) / 10000.0;
  }
}
