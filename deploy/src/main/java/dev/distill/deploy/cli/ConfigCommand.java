package dev.distill.deploy.cli;

import dev.distill.deploy.config.ConfigDocs;
import dev.distill.deploy.pipeline.DemoConfig;
import java.io.IOException;
import java.nio.file.Files;
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
      "Prints the configuration a run would use (defaults < --config files < DISTILL_* environment"
          + " variables < --set), after validation; secrets are redacted.",
      "With --docs DIR, writes the documented conf files (one per stage) generated from the key"
          + " declarations instead."
    })
final class ConfigCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--quick", description = "Start from the --quick defaults.")
  boolean quick;

  @CommandLine.Mixin ConfigOptions configOptions = new ConfigOptions();

  @Option(
      names = "--docs",
      paramLabel = "DIR",
      description = "Write the generated, documented conf files to DIR (e.g. conf) and exit.")
  Path docsDir;

  @Override
  public Integer call() throws IOException {
    if (docsDir != null) {
      Files.createDirectories(docsDir);
      for (Map.Entry<String, String> f : ConfigDocs.files().entrySet()) {
        Files.writeString(docsDir.resolve(f.getKey()), f.getValue());
        System.out.println(docsDir.resolve(f.getKey()));
      }
      return 0;
    }
    Map<String, String> effective;
    try {
      Map<String, String> overrides = configOptions.collect();
      if (quick) {
        overrides.put("run.quick", "true");
      }
      DemoConfig config = DemoConfig.from(overrides);
      // Keys of other commands (e.g. train.spark.*) are validated by those commands; print them
      // as given so the listing is complete.
      effective = new LinkedHashMap<>(DemoConfig.defaults(config.quick()));
      effective.putAll(overrides);
      effective.putAll(config.toMap());
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    }
    effective.forEach((k, v) -> System.out.println(k + " = " + ConfigSources.redact(k, v)));
    return 0;
  }
}
