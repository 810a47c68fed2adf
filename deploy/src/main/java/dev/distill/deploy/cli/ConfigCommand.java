package dev.distill.deploy.cli;

import dev.distill.deploy.pipeline.DemoConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/** {@code distill config}: the effective configuration, validated, secrets redacted. */
@Command(
    name = "config",
    mixinStandardHelpOptions = true,
    description = {
      "Prints the configuration a run would use (defaults < --config file < DISTILL_* environment"
          + " variables < --set), after validation; secret-looking keys are redacted."
    })
final class ConfigCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--quick", description = "Start from the --quick defaults.")
  boolean quick;

  @Option(names = "--config", description = "A key = value file; unknown keys fail.")
  Path configFile;

  @Option(names = "--set", description = "Override one key (repeatable).")
  Map<String, String> sets = new LinkedHashMap<>();

  @Override
  public Integer call() throws IOException {
    Map<String, String> overrides =
        ConfigSources.collect(
            configFile, System.getenv(), sets, DemoConfig.defaults(quick).keySet());
    if (quick) {
      overrides.put("run.quick", "true");
    }
    DemoConfig config;
    try {
      config = DemoConfig.from(overrides);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    }
    config.toMap().forEach((k, v) -> System.out.println(k + " = " + ConfigSources.redact(k, v)));
    return 0;
  }
}
