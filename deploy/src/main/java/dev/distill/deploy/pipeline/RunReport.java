package dev.distill.deploy.pipeline;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.ToNumberPolicy;
import com.google.gson.reflect.TypeToken;
import dev.distill.trainer.evaluation.Gate;
import dev.distill.trainer.training.TrainResult;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The evaluation stage over a run folder and its report: {@link RunEvaluation} (every model against
 * its teacher on the held-out text), the gates, then one writer per format: {@link ReportJson}
 * ({@code report.json}), {@link ReportHtml} ({@code report.html}), {@link ReportConsole}. Used by
 * {@code distill demo} at its end and by {@code distill eval} on a finished run.
 */
public final class RunReport {
  static final String METRICS_DIR = "metrics";
  private static final Gson GSON =
      new GsonBuilder()
          .setPrettyPrinting()
          .serializeNulls()
          // A NaN metric is written as NaN rather than failing the whole run at its last step.
          .serializeSpecialFloatingPointValues()
          // Numbers read back as Objects keep counts integers (280, not 280.0, in report.json:
          // issue 17); Gson's default reads every JSON number as a double.
          .setObjectToNumberStrategy(ToNumberPolicy.LONG_OR_DOUBLE)
          .create();

  /** What the stage produced. */
  public record Result(Path reportJson, Path reportHtml, List<Gate.Outcome> gates) {
    public boolean gatesPassed() {
      return gates.stream().allMatch(Gate.Outcome::passed);
    }
  }

  private RunReport() {}

  /** Writes a model's training curve where the evaluation finds it. */
  static void saveCurve(Path workloadDir, String name, TrainResult r) throws IOException {
    Files.createDirectories(workloadDir.resolve(METRICS_DIR));
    Files.writeString(workloadDir.resolve(METRICS_DIR).resolve(name + ".json"), GSON.toJson(r));
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
    PipelineFacts facts = PipelineFacts.read(runDir);
    RunEvaluation ev = RunEvaluation.evaluate(runDir, config, heldOut, out);
    Map<String, Double> metrics = ev.metrics(facts);
    List<Gate.Outcome> outcomes = parsed.stream().map(g -> g.evaluate(metrics)).toList();

    Map<String, Object> report = ReportJson.of(ev, facts, config, outcomes, pipelineStartNanos);
    Path json = runDir.resolve("report.json");
    Files.writeString(json, toJson(report));
    Path html = runDir.resolve("report.html");
    Files.writeString(html, ReportHtml.render(ev, facts, report, config, outcomes));
    ReportConsole.print(out, ev, facts, outcomes, json, html);
    return new Result(json, html, outcomes);
  }

  /** JSON text of {@code value} as report.json and pipeline.json are written. */
  static String toJson(Object value) {
    return GSON.toJson(value);
  }

  static <T> T fromJson(String json, Class<T> type) {
    return GSON.fromJson(json, type);
  }

  /** A record or map as an ordered map of its JSON keys (for the report's key/value tables). */
  static Map<String, Object> asMap(Object value) {
    Map<String, Object> m =
        GSON.fromJson(
            GSON.toJsonTree(value), new TypeToken<LinkedHashMap<String, Object>>() {}.getType());
    return m == null ? new LinkedHashMap<>() : m;
  }
}
