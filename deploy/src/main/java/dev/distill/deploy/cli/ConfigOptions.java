package dev.distill.deploy.cli;

import dev.distill.deploy.config.ConfigKeys;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * {@code --config} and {@code --set}, declared once for every command that reads the key = value
 * configuration (a picocli mixin).
 */
final class ConfigOptions {
  @Option(
      names = "--config",
      description =
          "A key = value file, or a folder of *.conf files such as conf/ (repeatable);"
              + " unknown keys fail.")
  List<Path> configFiles = new ArrayList<>();

  @Option(
      names = "--set",
      description = "Override one key, e.g. --set teacher.steps=500 (repeatable).")
  Map<String, String> sets = new LinkedHashMap<>();

  /**
   * The overrides: files, then {@code DISTILL_*} environment variables, then {@code --set} ({@link
   * ConfigSources#collect}); a key no declaration names fails.
   */
  Map<String, String> collect() throws IOException {
    return ConfigSources.collect(
        configFiles, System.getenv(), sets, ConfigKeys.defaults(false).keySet());
  }
}
