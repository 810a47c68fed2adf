package dev.distill.deploy.cli;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Pattern;

/**
 * Where configuration comes from, lowest precedence first: built-in defaults, a config file,
 * environment variables ({@code DISTILL_TEACHER_STEPS} sets {@code teacher.steps}), then {@code
 * --set key=value}. Printing redacts secret-looking keys with Spark's pattern.
 */
final class ConfigSources {
  static final Pattern SECRET = Pattern.compile("(?i)secret|password|token|access[.]?key");

  private ConfigSources() {}

  static Map<String, String> collect(
      Path configFile, Map<String, String> env, Map<String, String> sets, Iterable<String> keys)
      throws IOException {
    Map<String, String> out = new LinkedHashMap<>();
    if (configFile != null) {
      Properties p = new Properties();
      try (Reader r = Files.newBufferedReader(configFile)) {
        p.load(r);
      }
      for (String k : p.stringPropertyNames()) {
        out.put(k, p.getProperty(k));
      }
    }
    for (String key : keys) {
      String v = env.get(envName(key));
      if (v != null) {
        out.put(key, v);
      }
    }
    out.putAll(sets);
    return out;
  }

  /** {@code teacher.steps} -> {@code DISTILL_TEACHER_STEPS}. */
  static String envName(String key) {
    return "DISTILL_" + key.toUpperCase(java.util.Locale.ROOT).replaceAll("[^A-Z0-9]", "_");
  }

  static String redact(String key, String value) {
    return SECRET.matcher(key).find() && !value.isEmpty() ? "*****" : value;
  }
}
