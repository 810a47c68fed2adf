package dev.distill.deploy.pipeline;

import com.google.gson.annotations.SerializedName;
import dev.distill.deploy.workloads.ArithmeticTask;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.schemas.avro.Provenance;
import dev.distill.spark.jobs.CurateRationalesJob;
import dev.distill.spark.transforms.RationaleCuration;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.RationaleConfig;
import dev.distill.teacher.inference.RationaleSampler;
import dev.distill.teacher.inference.SoftLabeler;
import dev.distill.teacher.inference.TeacherIdentity;
import dev.distill.teacher.io.ParquetOutputSink;
import dev.distill.teacher.labeling.ReasoningRun;
import dev.distill.trainer.evaluation.HeldOutEvaluator;
import dev.distill.trainer.evaluation.ReasoningEvaluator;
import dev.distill.trainer.evaluation.SliceMetrics;
import dev.distill.trainer.io.CuratedDataset;
import dev.distill.trainer.loss.DistillationLoss;
import dev.distill.trainer.training.BatchSource;
import dev.distill.trainer.training.SoftLabelBatches;
import dev.distill.trainer.training.TextWindows;
import dev.distill.trainer.training.TrainConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The arithmetic chain-of-thought workload, every stage real: a teacher trained on step-by-step
 * solutions (cached), n rationales sampled per problem and written as teacher outputs to Parquet
 * (teacher-service batch mode), Spark curation keeping the self-consistent rationales that agree
 * with the gold answer, a student distilled step by step from the kept rationales' soft labels, the
 * same student trained on answers only, and exact-match evaluation on held-out problems.
 */
final class ArithmeticStage {
  /** Characters of the workload; a fixed alphabet so the tokenizer never depends on sampling. */
  static final String ALPHABET = "0123456789+-*=\nAbc. ";

  /** What precedes a problem in the teacher's training stream (the end of the previous one). */
  static final String CONTEXT = ".\n";

  private static final List<String> OPS = List.of("+", "-", "*");

  /** Prefix of this workload's stage names: teacher, sample, curate, students, evaluate. */
  static final String STAGE = "arithmetic ";

  private final DemoConfig config;
  private final ArithmeticConfig a;
  private final StageClock clock;
  private final PrintStream out;

  ArithmeticStage(DemoConfig config, StageClock clock, PrintStream out) {
    this.config = config;
    this.a = config.arithmetic();
    this.clock = clock;
    this.out = out;
  }

  /**
   * What the workload produced, as {@code arithmetic} in pipeline.json and report.json (Gson; the
   * field names are the JSON keys). {@code students} is set only when no rationale survived
   * curation, {@code models} and {@code studentParamsVsTeacher} only when the students trained.
   */
  record ArithmeticResult(
      Rationales rationales,
      Curation curation,
      String students,
      List<ModelRow> models,
      @SerializedName("student_params_vs_teacher") Double studentParamsVsTeacher) {}

  /** The teacher service's sampling: n rationales per problem. */
  record Rationales(
      long problems,
      long sampled,
      @SerializedName("with_answer") long withAnswer,
      @SerializedName("matching_gold") long matchingGold,
      @SerializedName("per_problem") int perProblem,
      @SerializedName("sample_temperature") float sampleTemperature) {}

  /** Spark's rationale curation. */
  record Curation(long rationales, long kept, Map<String, Long> decisions, long train, long val) {}

  /** One model's exact match on the held-out problems. */
  record ModelRow(
      String name,
      long params,
      int problems,
      @SerializedName("exact_match_with_rationale") double exactMatchWithRationale,
      @SerializedName("exact_match_without_rationale") double exactMatchWithoutRationale,
      double faithfulness,
      @SerializedName("exact_match_by_slice") Map<String, Double> exactMatchBySlice) {
    ModelRow(ReasoningEvaluator.Result r, long params) {
      this(
          r.name(),
          params,
          r.problems(),
          r.exactMatchWithRationale(),
          r.exactMatchWithoutRationale(),
          r.faithfulness(),
          r.withRationaleBySlice());
    }
  }

  /** The trained (or cached) teacher, its problems and their tokenizer. */
  private record Teacher(
      CharTokenizer tok, List<ArithmeticTask.Problem> problems, GptConfig config, Path dir) {}

  /** The two students, trained and saved under {@code models/NAME}. */
  private record Students(GptConfig config, DistillationLoss kd, List<String> names) {}

  private static final String KD_STUDENT = "cot-kd-student";
  private static final String ANSWERS_STUDENT = "answers-only-student";

  /**
   * Teacher, rationales, curation, students, evaluation: each step below, in that order, each a
   * stage of the clock ({@code arithmetic teacher}, {@code arithmetic sample}, {@code arithmetic
   * curate}, {@code arithmetic students}, {@code arithmetic evaluate}).
   */
  ArithmeticResult run(Path runDir) throws IOException {
    Path dir = runDir.resolve("arithmetic");
    Teacher teacher = clock.time(STAGE + "teacher", () -> teacher(dir));
    try (LanguageModel model = Checkpoints.load(teacher.dir())) {
      List<ArithmeticTask.Problem> labelled = teacher.problems().subList(0, a.labelledProblems());
      Rationales rationales =
          clock.time(STAGE + "sample", () -> sampleRationales(model, teacher.dir(), labelled, dir));
      Curation curation = clock.time(STAGE + "curate", () -> curate(dir));
      if (curation.train() == 0) {
        // Nothing to distill from: say so in the report rather than train on nothing.
        out.println("[train arithmetic] no rationale survived curation; students not trained");
        return new ArithmeticResult(
            rationales, curation, "not trained: no rationale survived curation", null, null);
      }
      Students students =
          clock.time(STAGE + "students", r -> trainStudents(teacher, labelled, curation, dir, r));
      List<ModelRow> rows =
          clock.time(STAGE + "evaluate", () -> evaluate(teacher, model, students, dir));
      printTable(rows);
      return new ArithmeticResult(
          rationales,
          curation,
          null,
          rows,
          Math.round(
                  1000.0 * students.config().parameterCount() / teacher.config().parameterCount())
              / 1000.0);
    }
  }

  /** The teacher trained on gold step-by-step solutions (cached by its config and data). */
  private Teacher teacher(Path dir) throws IOException {
    CharTokenizer tok = CharTokenizer.fromCorpus(ALPHABET);
    List<ArithmeticTask.Problem> problems =
        ArithmeticTask.generate(config.seed(), a.trainProblems(), 1, 3, OPS);
    StringBuilder sb = new StringBuilder();
    for (ArithmeticTask.Problem p : problems) {
      sb.append(p.text());
    }
    int[] all = tok.encode(sb.toString());
    int cut = (int) (all.length * 0.95);
    // The teacher has the Shakespeare teacher's depth and width, at this workload's context.
    GptConfig teacherConfig =
        gpt(tok, config.teacherLayers(), config.teacherHeads(), config.teacherEmbd());
    TrainConfig teacherTrain =
        TrainStage.recipe(
            a.teacherSteps(), a.teacherBatch(), 2e-3f, 2e-4f, 30, 4, 4, config.seed());
    Path teacherDir =
        TeacherCache.loadOrTrain(
            Path.of(config.cacheDir()),
            "arithmetic",
            "arithmetic-cot-gpt",
            LocalPipeline.sha256(sb.toString()),
            teacherConfig,
            teacherTrain,
            tok,
            Arrays.copyOfRange(all, 0, cut),
            Arrays.copyOfRange(all, cut, all.length),
            config.seed(),
            out);
    LocalPipeline.copyRecursively(teacherDir, dir.resolve("models/teacher"));
    return new Teacher(tok, problems, teacherConfig, teacherDir);
  }

  /** Teacher service, batch mode: n rationales per problem, with soft labels, to Parquet. */
  private Rationales sampleRationales(
      LanguageModel teacher, Path teacherDir, List<ArithmeticTask.Problem> labelled, Path dir)
      throws IOException {
    LabelingConfig lc = new LabelingConfig(config.topK(), config.temperature(), 64);
    SoftLabeler labeler = new SoftLabeler(teacher, lc);
    RationaleSampler sampler =
        new RationaleSampler(
            teacher,
            labeler,
            new RationaleConfig(
                a.rationales(),
                a.sampleTemperature(),
                a.blockSize(),
                ArithmeticTask.ANSWER,
                CONTEXT + "%s"));
    Provenance provenance =
        TeacherIdentity.provenance(TeacherIdentity.teacherIdOf(teacherDir), teacher, lc);
    List<ReasoningRun.Question> questions = new ArrayList<>();
    for (int i = 0; i < labelled.size(); i++) {
      ArithmeticTask.Problem p = labelled.get(i);
      questions.add(
          new ReasoningRun.Question(
              "arith-" + i, "arithmetic/train", p.prompt(), Long.toString(p.answer())));
    }
    StageProgress lp = new StageProgress(out, "teacher-service arithmetic");
    ReasoningRun.Summary sampled;
    try (ParquetOutputSink sink =
        new ParquetOutputSink(dir.resolve("teacher-outputs").toString(), 2000)) {
      sampled =
          new ReasoningRun(sampler, labeler, provenance, config.runId())
              .run(
                  questions,
                  config.seed(),
                  sink,
                  done -> lp.update(done, questions.size(), "problems with rationales"));
    }
    Rationales r =
        new Rationales(
            sampled.records(),
            sampled.rationales(),
            sampled.withAnswer(),
            sampled.matchingGold(),
            a.rationales(),
            a.sampleTemperature());
    out.printf(
        Locale.ROOT,
        "[teacher-service arithmetic] %d problems, %d rationales, %d with an answer, %d matching"
            + " gold%n",
        r.problems(),
        r.sampled(),
        r.withAnswer(),
        r.matchingGold());
    return r;
  }

  /** A GPT over the workload's alphabet and context, without dropout. */
  private GptConfig gpt(CharTokenizer tok, int layers, int heads, int embd) {
    return new GptConfig(tok.vocabSize(), a.blockSize(), layers, heads, embd, 0f);
  }

  /** Spark: keep self-consistent rationales that agree with the gold answer. */
  private Curation curate(Path dir) {
    out.println("[spark] curate rationales: answer present, self-consistency, gold agreement");
    CurateRationalesJob.Result curated =
        CurateRationalesJob.run(
            new CurateRationalesJob.Config(
                dir.resolve("teacher-outputs").toString(),
                dir.resolve("curated").toString(),
                dir.resolve("curation-report.json").toString(),
                config.curateValFraction(),
                new RationaleCuration.Options(1, 4 * a.blockSize(), a.requireGold()),
                config.sparkMaster()));
    Curation c =
        new Curation(
            curated.rationales(),
            curated.kept(),
            curated.decisions(),
            curated.train(),
            curated.val());
    out.printf(
        "[spark] rationales %d -> kept %d (train %d, val %d) %s%n",
        c.rationales(), c.kept(), c.train(), c.val(), c.decisions());
    return c;
  }

  /**
   * Students distilled step by step, and on answers only (same architecture, steps, seed), trained
   * at the same time ({@link TrainStage#concurrently}).
   */
  private Students trainStudents(
      Teacher teacher,
      List<ArithmeticTask.Problem> labelled,
      Curation curation,
      Path dir,
      StageClock.Running running)
      throws IOException {
    CharTokenizer tok = teacher.tok();
    GptConfig studentConfig = gpt(tok, a.studentLayers(), a.studentHeads(), a.studentEmbd());
    TrainConfig studentTrain =
        TrainStage.recipe(
            a.studentSteps(), a.studentBatch(), 3e-3f, 3e-4f, 30, 4, 2, config.seed());
    TrainStage.Curated data = TrainStage.Curated.read(dir, tok, curation.val());
    CuratedDataset trainSet = data.train();
    CuratedDataset valSet = data.val();
    DistillationLoss kd = new DistillationLoss(config.alpha(), trainSet.temperature(), false);
    StringBuilder answers = new StringBuilder();
    for (ArithmeticTask.Problem p : labelled) {
      answers.append(p.answerOnlyText());
    }
    int[] answerTokens = tok.encode(answers.toString());
    Map<String, BatchSource[]> students = new LinkedHashMap<>();
    students.put(
        KD_STUDENT,
        new BatchSource[] {
          new SoftLabelBatches(trainSet.examples(), a.studentBatch(), kd),
          new SoftLabelBatches(valSet.examples(), a.studentBatch(), kd)
        });
    students.put(
        ANSWERS_STUDENT,
        new BatchSource[] {
          new TextWindows(answerTokens, a.blockSize(), a.studentBatch()),
          new TextWindows(answerTokens, a.blockSize(), a.studentBatch())
        });
    TrainStage trainer = new TrainStage(studentTrain, "train", config.runId(), out);
    Map<String, TrainStage.Job> jobs = new LinkedHashMap<>();
    for (Map.Entry<String, BatchSource[]> e : students.entrySet()) {
      out.printf(
          Locale.ROOT,
          "[train arithmetic] %s: %,d params (%.2f of the teacher)%n",
          e.getKey(),
          studentConfig.parameterCount(),
          (double) studentConfig.parameterCount() / teacher.config().parameterCount());
      jobs.put(
          e.getKey(),
          () -> {
            try (LanguageModel s = LanguageModel.create(studentConfig, tok, config.seed())) {
              trainer.train(e.getKey(), s, e.getValue()[0], e.getValue()[1], null);
              trainer.save(
                  s,
                  dir.resolve("models").resolve(e.getKey()),
                  e.getKey().equals(KD_STUDENT)
                      ? kd.description()
                      : "cross-entropy on answer-only texts (no rationale, no teacher)");
            }
          });
    }
    TrainStage.concurrently(jobs, running);
    return new Students(studentConfig, kd, List.copyOf(students.keySet()));
  }

  /** Exact match of teacher and students on held-out problems. */
  private List<ModelRow> evaluate(Teacher teacher, LanguageModel model, Students students, Path dir)
      throws IOException {
    ReasoningEvaluator evaluator =
        new ReasoningEvaluator(
            heldOut(teacher.problems()),
            CONTEXT,
            ArithmeticTask.ANSWER,
            "A ",
            ArithmeticTask::answerFromRationale,
            a.blockSize());
    List<ModelRow> rows = new ArrayList<>();
    rows.add(new ModelRow(evaluator.evaluate("teacher", model), teacher.config().parameterCount()));
    for (String name : students.names()) {
      try (LanguageModel s = Checkpoints.load(dir.resolve("models").resolve(name))) {
        rows.add(new ModelRow(evaluator.evaluate(name, s), students.config().parameterCount()));
      }
    }
    return rows;
  }

  private void printTable(List<ModelRow> rows) {
    out.println();
    out.printf(
        Locale.ROOT,
        "%-22s %10s %14s %14s %12s %10s %10s%n",
        "arithmetic model",
        "params",
        "EM rationale",
        "EM direct",
        "faithful",
        "add 3-dig",
        "add 4-dig");
    for (ModelRow r : rows) {
      out.printf(
          Locale.ROOT,
          "%-22s %,10d %14.3f %14.3f %12.3f %10.3f %10.3f%n",
          r.name(),
          r.params(),
          r.exactMatchWithRationale(),
          r.exactMatchWithoutRationale(),
          r.faithfulness(),
          r.exactMatchBySlice().getOrDefault("add/3-digit", Double.NaN),
          r.exactMatchBySlice().getOrDefault("add/4-digit (longer than training)", Double.NaN));
    }
  }

  /** One held-out problem and its slice, e.g. "add/3-digit". */
  record HeldOutProblem(String slice, ArithmeticTask.Problem problem) {}

  /** Held-out slices: problems not in the training set, and a length the training set lacks. */
  private List<ReasoningEvaluator.Task> heldOut(List<ArithmeticTask.Problem> train) {
    List<ReasoningEvaluator.Task> tasks = new ArrayList<>();
    for (HeldOutProblem h : heldOutProblems(config, train)) {
      tasks.add(
          new ReasoningEvaluator.Task(
              h.problem().prompt(), Long.toString(h.problem().answer()), h.slice()));
    }
    return tasks;
  }

  /** The held-out problems of a run of {@code config} (regenerated: every generator is seeded). */
  static List<HeldOutProblem> heldOutProblems(DemoConfig config) {
    return heldOutProblems(
        config,
        ArithmeticTask.generate(config.seed(), config.arithmetic().trainProblems(), 1, 3, OPS));
  }

  private static List<HeldOutProblem> heldOutProblems(
      DemoConfig config, List<ArithmeticTask.Problem> train) {
    Set<String> seen = new HashSet<>();
    for (ArithmeticTask.Problem p : train) {
      seen.add(p.prompt());
    }
    List<HeldOutProblem> out = new ArrayList<>();
    Object[][] slices = {
      {"add/3-digit", "+", 3},
      {"sub/3-digit", "-", 3},
      {"mul/3-digit", "*", 3},
      {"add/4-digit (longer than training)", "+", 4}
    };
    int evalProblems = config.arithmetic().evalProblems();
    long seed = config.seed() + 1_000_003L;
    for (Object[] s : slices) {
      int added = 0;
      for (ArithmeticTask.Problem p :
          ArithmeticTask.generate(
              seed++, evalProblems * 3, (int) s[2], (int) s[2], List.of((String) s[1]))) {
        if (added < evalProblems && seen.add(p.prompt())) {
          out.add(new HeldOutProblem((String) s[0], p));
          added++;
        }
      }
    }
    return out;
  }

  /**
   * Per-slice quality of the arithmetic models (teacher and students under {@code
   * arithmetic/models}) against the arithmetic teacher on the held-out problems' full texts
   * (prompt, gold rationale, answer), each problem one example. A text longer than the models'
   * context is scored on its first {@code blockSize + 1} tokens and counted in {@code truncated}.
   *
   * @return empty rows when the run has no arithmetic models (e.g. curation kept nothing)
   */
  static SliceScores heldOutSlices(Path runDir, DemoConfig config, int[] lengthBuckets)
      throws IOException {
    Path models = runDir.resolve("arithmetic").resolve("models");
    Path teacherDir = models.resolve("teacher");
    List<SliceMetrics.Row> rows = new ArrayList<>();
    if (!java.nio.file.Files.exists(teacherDir.resolve(Checkpoints.MANIFEST))) {
      return new SliceScores(rows, 0, 0);
    }
    List<String> names = new ArrayList<>(List.of("teacher"));
    try (java.util.stream.Stream<Path> s = java.nio.file.Files.list(models)) {
      s.filter(p -> java.nio.file.Files.exists(p.resolve(Checkpoints.MANIFEST)))
          .map(p -> p.getFileName().toString())
          .filter(n -> !n.equals("teacher"))
          .sorted()
          .forEach(names::add);
    }
    int truncated = 0;
    List<int[]> examples = new ArrayList<>();
    try (LanguageModel teacher = Checkpoints.load(teacherDir)) {
      int max = teacher.config().blockSize() + 1;
      for (HeldOutProblem h : heldOutProblems(config)) {
        int[] ids = teacher.tokenizer().encode(CONTEXT + h.problem().text());
        if (ids.length > max) {
          ids = Arrays.copyOf(ids, max);
          truncated++;
        }
        examples.add(ids);
      }
      for (String name : names) {
        SliceMetrics.Accumulator acc = new SliceMetrics.Accumulator(name, lengthBuckets);
        if (name.equals("teacher")) {
          HeldOutEvaluator.scoreExamples(teacher, teacher, TASK, examples, 32, acc);
        } else {
          try (LanguageModel m = Checkpoints.load(models.resolve(name))) {
            HeldOutEvaluator.scoreExamples(teacher, m, TASK, examples, 32, acc);
          }
        }
        rows.addAll(acc.rows());
      }
    }
    return new SliceScores(rows, examples.size(), truncated);
  }

  /** Task name of this workload in per-slice tables. */
  static final String TASK = "arithmetic";

  /**
   * @param rows per (model, length bucket), the all-lengths row first
   * @param examples held-out problems scored
   * @param truncated of those, texts cut to the context
   */
  record SliceScores(List<SliceMetrics.Row> rows, int examples, int truncated) {}
}
