package dev.distill.deploy.cli;

import dev.distill.deploy.pipeline.DemoConfig;
import dev.distill.deploy.pipeline.LocalPipeline;
import dev.distill.trainer.evaluation.Gate;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/** {@code distill demo}: every stage on one machine, with real components. */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = {
      "Runs every stage on one machine: an embedded Kafka broker, a teacher trained on tiny"
          + " Shakespeare (cached; a Llama-family model over a BPE tokenizer, or with"
          + " --workload shakespeare-char the char-level GPT), soft labels to Kafka and Parquet,"
          + " Spark ingest and curation, a KD student and a hard-label student, the arithmetic"
          + " chain-of-thought workload, and the evaluation report.",
      "Writes only under <run.dir>/<run-id>/ and the model cache."
    })
final class DemoCommand implements Callable<Integer> {
  /** The run's log under {@code runs/<id>/}: the full stack trace of a failed run. */
  static final String LOG = "distill.log";

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--quick", description = "Same stages at toy sizes (about 2 minutes).")
  boolean quick;

  @Option(names = "--run-id", description = "Run folder name; re-running replaces it.")
  String runId;

  @Option(
      names = "--bootstrap-servers",
      description = "Use this Kafka cluster instead of starting an embedded broker.")
  String bootstrapServers;

  @CommandLine.Mixin ConfigOptions configOptions = new ConfigOptions();

  @Option(
      names = "--workload",
      description =
          "Run this workload (repeatable; replaces run.workloads): shakespeare-char (the"
              + " char-level GPT of the seed paper, with the compressed students),"
              + " shakespeare-bpe (BPE tokenizer, Llama-family teacher and students, Hugging"
              + " Face export), arithmetic. Default: shakespeare-bpe and arithmetic; --quick runs"
              + " all three.")
  List<String> workloads = new ArrayList<>();

  @Option(
      names = "--gate",
      description =
          "A condition on the report, e.g. 'student.val_loss <= teacher.val_loss + 0.15';"
              + " the command exits 1 when one fails (repeatable).")
  List<String> gates = new ArrayList<>();

  @Override
  public Integer call() throws IOException {
    Map<String, String> overrides;
    try {
      overrides = configOptions.collect();
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    }
    if (quick) {
      overrides.put("run.quick", "true");
    }
    if (runId != null) {
      overrides.put("run.id", runId);
    }
    if (!workloads.isEmpty()) {
      overrides.put("run.workloads", String.join(",", workloads));
    }
    if (bootstrapServers != null) {
      overrides.put("kafka.bootstrap-servers", bootstrapServers);
    }
    DemoConfig config;
    try {
      gates.forEach(Gate::parse); // a malformed gate fails before hours of work, not after
      config = DemoConfig.from(overrides);
    } catch (IllegalArgumentException e) {
      // A bad key or value is a usage error (exit code 2), not a failed run.
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    }
    LocalPipeline pipeline = new LocalPipeline(config, gates, System.out);
    try {
      pipeline.run();
    } catch (IOException | RuntimeException | Error e) {
      // The console gets one line (DistillCli); the run's log keeps the whole trace (issue 17).
      FailureLine.appendToLog(
          Path.of(config.runsDir(), config.runId(), LOG), spec.qualifiedName(), e);
      throw e;
    }
    if (!pipeline.result().gatesPassed()) {
      System.err.println("distill: a gate failed");
      return 1;
    }
    return 0;
  }
}
