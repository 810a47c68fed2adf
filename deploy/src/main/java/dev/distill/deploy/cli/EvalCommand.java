package dev.distill.deploy.cli;

import com.google.gson.GsonBuilder;
import dev.distill.deploy.pipeline.DemoConfig;
import dev.distill.deploy.pipeline.LocalPipeline;
import dev.distill.deploy.pipeline.RunReport;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.hf.ModelSources;
import dev.distill.models.tokenizer.Tokenizers;
import dev.distill.trainer.evaluation.EvalResult;
import dev.distill.trainer.evaluation.Gate;
import dev.distill.trainer.evaluation.HeldOutEvaluator;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/** {@code distill eval}: re-evaluate a finished run's models and apply gates. */
@Command(
    name = "eval",
    mixinStandardHelpOptions = true,
    description = {
      "Evaluates every model in a run folder against its teacher on the held-out text and"
          + " writes report.json and report.html there; or, with --teacher, --student and --text,"
          + " any models (Hugging Face folders or checkpoints) on a text of yours.",
      "Gates make the command exit 1 when a condition fails, for schedulers."
    })
final class EvalCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--run-dir", description = "A run folder, e.g. runs/demo.")
  Path runDir;

  @Option(
      names = "--teacher",
      description =
          "Instead of --run-dir: the teacher to compare against, hf:FOLDER or a checkpoint folder.")
  String teacher;

  @Option(
      names = "--student",
      description = "A student (hf:FOLDER or a checkpoint folder), repeatable; with --teacher.")
  List<String> students = new ArrayList<>();

  @Option(
      names = "--text",
      description = "With --teacher: held-out text (UTF-8) no stage has trained on.")
  Path text;

  @Option(
      names = "--block-size",
      defaultValue = "64",
      description = "With --teacher: tokens per window (default ${DEFAULT-VALUE}).")
  int blockSize;

  @Option(
      names = "--max-windows",
      defaultValue = "200",
      description = "With --teacher: most windows evaluated (default ${DEFAULT-VALUE}).")
  int maxWindows;

  @Option(
      names = "--output",
      description = "With --teacher: folder for report.json (default: print only).")
  Path output;

  @Option(
      names = "--gate",
      description = "A condition, e.g. 'student.val_loss <= teacher.val_loss + 0.15' (repeatable).")
  List<String> gates = new ArrayList<>();

  @Override
  public Integer call() throws IOException {
    try {
      gates.forEach(Gate::parse);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    }
    if ((runDir == null) == (teacher == null)) {
      throw new ParameterException(
          spec.commandLine(), "give either --run-dir, or --teacher with --student and --text");
    }
    if (teacher != null) {
      return compareModels();
    }
    Path configFile = runDir.resolve("config.properties");
    if (!Files.exists(configFile)) {
      throw new ParameterException(
          spec.commandLine(), runDir + " is not a run folder (no config.properties)");
    }
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(configFile)) {
      p.load(r);
    }
    Map<String, String> m = new LinkedHashMap<>();
    p.stringPropertyNames().forEach(k -> m.put(k, p.getProperty(k)));
    DemoConfig config = DemoConfig.from(m);
    RunReport.Result result =
        RunReport.write(
            runDir.toAbsolutePath(),
            config,
            LocalPipeline.heldOutTokens(),
            gates,
            null,
            System.out);
    if (!result.gatesPassed()) {
      System.err.println("distill: a gate failed");
      return 1;
    }
    return 0;
  }

  /**
   * Teacher and students of any family on the same held-out windows (HeldOutEvaluator): loss per
   * token and per character, top-1 agreement, KL(teacher || student), parameters, bytes; gates on
   * {@code NAME.metric} with NAME {@code teacher} or {@code student} (the first), {@code
   * student2}...
   */
  private int compareModels() throws IOException {
    if (students.isEmpty() || text == null) {
      throw new ParameterException(spec.commandLine(), "--teacher needs --student and --text");
    }
    String heldOut = Files.readString(text);
    Map<String, Object> report = new LinkedHashMap<>();
    Map<String, Double> metrics = new LinkedHashMap<>();
    List<Map<String, Object>> rows = new ArrayList<>();
    try (LanguageModel t = ModelSources.open(teacher)) {
      int[] ids = t.tokenizer().encode(heldOut);
      int block = Math.min(blockSize, t.config().blockSize());
      HeldOutEvaluator evaluator = new HeldOutEvaluator(t, ids, block, maxWindows, 8);
      // characters per token of this text, so per-character losses compare across tokenizers
      double charsPerToken = heldOut.codePointCount(0, heldOut.length()) / (double) ids.length;
      rows.add(
          row("teacher", teacher, evaluator.evaluate("teacher", t, 0), charsPerToken, metrics));
      for (int i = 0; i < students.size(); i++) {
        String name = i == 0 ? "student" : "student" + (i + 1);
        try (LanguageModel s = ModelSources.open(students.get(i))) {
          Tokenizers.requireSame(t.tokenizer(), s.tokenizer());
          rows.add(
              row(name, students.get(i), evaluator.evaluate(name, s, 0), charsPerToken, metrics));
        }
      }
      report.put("text", text.toAbsolutePath().toString());
      report.put("tokenizer", t.tokenizer().id());
      report.put("tokens", evaluator.tokens());
      report.put("models", rows);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    }
    System.out.printf(
        Locale.ROOT,
        "%-10s %12s %12s %12s %10s %10s%n",
        "model",
        "params",
        "loss/token",
        "loss/char",
        "top1 agr",
        "KL(T||S)");
    for (Map<String, Object> r : rows) {
      System.out.printf(
          Locale.ROOT,
          "%-10s %,12d %12.4f %12.4f %10.4f %10.4f%n",
          r.get("name"),
          (long) r.get("params"),
          (double) r.get("val_loss"),
          (double) r.get("val_loss_per_char"),
          (double) r.get("top1_agreement"),
          (double) r.get("kl_teacher_student"));
    }
    boolean passed = true;
    List<String> outcomes = new ArrayList<>();
    for (String g : gates) {
      Gate.Outcome o = Gate.parse(g).evaluate(metrics);
      outcomes.add(o.toString());
      System.out.println("[gate] " + o);
      passed &= o.passed();
    }
    report.put("gates", outcomes);
    if (output != null) {
      Files.createDirectories(output);
      Files.writeString(
          output.resolve("report.json"),
          new GsonBuilder().setPrettyPrinting().create().toJson(report));
      System.out.println(output.resolve("report.json"));
    }
    if (!passed) {
      System.err.println("distill: a gate failed");
      return 1;
    }
    return 0;
  }

  private static Map<String, Object> row(
      String name, String source, EvalResult r, double charsPerToken, Map<String, Double> metrics) {
    Map<String, Object> row = new LinkedHashMap<>();
    row.put("name", name);
    row.put("source", source);
    row.put("params", r.params());
    row.put("val_loss", r.valLoss());
    row.put("val_loss_per_char", r.valLoss() / charsPerToken);
    row.put("top1_agreement", r.top1Agreement());
    row.put("kl_teacher_student", r.klTeacherStudent());
    metrics.put(name + ".val_loss", r.valLoss());
    metrics.put(name + ".val_loss_per_char", r.valLoss() / charsPerToken);
    metrics.put(name + ".top1_agreement", r.top1Agreement());
    metrics.put(name + ".kl", r.klTeacherStudent());
    metrics.put(name + ".params", (double) r.params());
    return row;
  }
}
