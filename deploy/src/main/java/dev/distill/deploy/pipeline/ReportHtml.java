package dev.distill.deploy.pipeline;

import dev.distill.deploy.pipeline.CharWorkload.CompressionResult;
import dev.distill.deploy.pipeline.CharWorkload.LayerFacts;
import dev.distill.trainer.evaluation.Gate;
import dev.distill.trainer.report.HtmlReport;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * report.html: the evaluation through student-trainer's {@link HtmlReport}, with report.json's
 * workload sections as key/value tables, each stage's seconds and peak RSS, and the configuration.
 */
final class ReportHtml {
  private ReportHtml() {}

  static String render(
      RunEvaluation ev,
      PipelineFacts facts,
      Map<String, Object> report,
      DemoConfig config,
      List<Gate.Outcome> outcomes) {
    Map<String, Map<String, Object>> sections = new LinkedHashMap<>();
    for (String key :
        new String[] {
          "soft_labels", "curation", SubwordStage.DIR, "arithmetic", "timings_seconds"
        }) {
      Object v = report.get(key);
      if (v == null) {
        continue;
      }
      Map<String, Object> m = RunReport.asMap(v);
      if (key.equals(SubwordStage.DIR)) {
        // its teacher and students have their own table in the page; the rest stays key/value
        m.keySet().removeAll(List.of("teacher", "students"));
      }
      Map<String, Object> sec = new LinkedHashMap<>();
      RunEvaluation.flatten("", m, sec);
      sections.put(key.replace('_', ' '), sec);
    }
    Map<String, Object> stageRows = new LinkedHashMap<>();
    for (StageClock.StageTime st : ReportJson.stages(facts, ev)) {
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
    RunEvaluation.TextEval main = ev.main();
    return HtmlReport.render(
        new HtmlReport.Input(
            "distill report: run " + config.runId(),
            main.teacher(),
            main.students(),
            main.curves(),
            sections,
            outcomes,
            compressionOf(facts),
            ev.slices(),
            costTable(main.cost()),
            ev.subword() == null
                ? null
                : new HtmlReport.Subword(
                    ev.subword().teacher(), ev.subword().students(), ev.charsPerToken())));
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

  /** The compressed students' facts (written by the pipeline) for the report's charts. */
  static Map<String, HtmlReport.Compressed> compressionOf(PipelineFacts facts) {
    Map<String, HtmlReport.Compressed> out = new LinkedHashMap<>();
    for (Map.Entry<String, CompressionResult> e : facts.compression().entrySet()) {
      CompressionResult c = e.getValue();
      List<List<Double>> curve = c.bitsOverTraining();
      out.put(
          e.getKey(),
          new HtmlReport.Compressed(
              c.bitsPerWeight(),
              c.layers().stream().map(LayerFacts::layer).toList(),
              c.layers().stream().mapToDouble(LayerFacts::sparsity).toArray(),
              curve.stream().mapToDouble(p -> p.get(0)).toArray(),
              curve.stream().mapToDouble(p -> p.get(1)).toArray()));
    }
    return out;
  }
}
