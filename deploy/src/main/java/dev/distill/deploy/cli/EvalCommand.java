package dev.distill.deploy.cli;

import dev.distill.deploy.pipeline.DemoConfig;
import dev.distill.deploy.pipeline.LocalPipeline;
import dev.distill.deploy.pipeline.RunReport;
import dev.distill.trainer.evaluation.Gate;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
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
          + " writes report.json and report.html there.",
      "Gates make the command exit 1 when a condition fails, for schedulers."
    })
final class EvalCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--run-dir", required = true, description = "A run folder, e.g. runs/demo.")
  Path runDir;

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
}
