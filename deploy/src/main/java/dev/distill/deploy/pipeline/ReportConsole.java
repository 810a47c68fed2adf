package dev.distill.deploy.pipeline;

import dev.distill.deploy.pipeline.RunEvaluation.TextEval;
import dev.distill.trainer.evaluation.EvalResult;
import dev.distill.trainer.evaluation.Gate;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/** The console's view of the report: the main table, the subword table, the gates, the files. */
final class ReportConsole {
  private ReportConsole() {}

  static void print(
      PrintStream out,
      RunEvaluation ev,
      PipelineFacts facts,
      List<Gate.Outcome> outcomes,
      Path json,
      Path html) {
    printTable(
        out,
        ev.main().teacher(),
        ev.main().students(),
        facts,
        ev.charRan() ? "val nats/ch" : "val nats/tok");
    if (ev.subword() != null) {
      printSubwordTable(out, ev.subword(), ev.charsPerToken());
    }
    for (Gate.Outcome o : outcomes) {
      out.println("[gate] " + o);
    }
    out.println("report: " + json + " and " + html);
  }

  private static void printTable(
      PrintStream out,
      EvalResult teacher,
      List<EvalResult> students,
      PipelineFacts facts,
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
          facts.bitsPerWeight(r.name()),
          r.valLoss(),
          r.top1Agreement(),
          r.klTeacherStudent(),
          r.calibration().ece(),
          r.bytesOnDisk());
    }
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
}
