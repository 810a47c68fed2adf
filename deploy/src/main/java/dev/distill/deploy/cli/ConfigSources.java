package dev.distill.deploy.cli;

import dev.distill.deploy.config.ConfigKeys;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Where configuration comes from, lowest precedence first: built-in defaults, config files (a
 * directory means every {@code *.conf} in it, by name), environment variables ({@code
 * DISTILL_TEACHER_STEPS} sets {@code teacher.steps}), then {@code --set key=value}.
 *
 * <p>Secrets stay out of command lines and files under version control: any value may be {@code
 * ${env:NAME}} or {@code ${file:PATH}}, and {@code KEY.file = PATH} (or {@code DISTILL_KEY_FILE})
 * reads KEY from a file, e.g. a mounted Kubernetes Secret. Printing redacts declared secrets and
 * keys matching Spark's pattern.
 */
final class ConfigSources {
  static final Pattern SECRET = Pattern.compile("(?i)secret|password|token|access[.]?key");
  private static final Pattern REF = Pattern.compile("\\$\\{(env|file):([^}]+)}");
  static final String FILE_SUFFIX = ".file";

  private ConfigSources() {}

  static Map<String, String> collect(
      Path configFile, Map<String, String> env, Map<String, String> sets, Iterable<String> keys)
      throws IOException {
    return collect(configFile == null ? List.of() : List.of(configFile), env, sets, keys);
  }

  static Map<String, String> collect(
      List<Path> configs, Map<String, String> env, Map<String, String> sets, Iterable<String> keys)
      throws IOException {
    Map<String, String> out = new LinkedHashMap<>();
    for (Path file : expand(configs)) {
      Properties p = new Properties();
      try (Reader r = Files.newBufferedReader(file)) {
        p.load(r);
      }
      for (String k : p.stringPropertyNames()) {
        out.put(k, p.getProperty(k));
      }
    }
    for (String key : keys) {
      for (String k : List.of(key, key + FILE_SUFFIX)) {
        String v = env.get(envName(k));
        if (v != null) {
          out.put(k, v);
        }
      }
    }
    out.putAll(sets);
    return resolve(out, env);
  }

  /** Files as given; a directory becomes its {@code *.conf} files in name order. */
  static List<Path> expand(List<Path> configs) throws IOException {
    List<Path> files = new ArrayList<>();
    for (Path c : configs) {
      if (Files.isDirectory(c)) {
        try (Stream<Path> s = Files.list(c)) {
          s.filter(f -> f.getFileName().toString().endsWith(".conf"))
              .filter(Files::isRegularFile)
              .sorted()
              .forEach(files::add);
        }
      } else if (Files.isRegularFile(c)) {
        files.add(c);
      } else {
        throw new IllegalArgumentException("config file " + c + " does not exist");
      }
    }
    return files;
  }

  /**
   * Expands {@code ${env:..}} / {@code ${file:..}}, then reads each {@code KEY.file} into KEY (a
   * file given for a key wins over a value given for it). Never fails open: a blank {@code
   * KEY.file}, an empty file, an unset variable, or an empty variable for a secret key is refused
   * with a message naming the key (issue 17).
   */
  static Map<String, String> resolve(Map<String, String> in, Map<String, String> env)
      throws IOException {
    Map<String, String> out = new LinkedHashMap<>();
    Map<String, String> files = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : in.entrySet()) {
      String key = e.getKey();
      String base =
          key.endsWith(FILE_SUFFIX) ? key.substring(0, key.length() - FILE_SUFFIX.length()) : null;
      if (base != null && ConfigKeys.find(base).isPresent()) {
        if (e.getValue().isBlank()) {
          // Naming a file and leaving it blank is a mistake, never "no secret".
          throw new IllegalArgumentException(
              key + " is empty: give the path of the file holding " + base + ", or remove " + key);
        }
        files.put(base, e.getValue().trim());
      } else {
        out.put(key, expand(key, e.getValue(), env));
      }
    }
    for (Map.Entry<String, String> f : files.entrySet()) {
      out.put(f.getKey(), readSecretFile(f.getKey() + FILE_SUFFIX, f.getValue()));
    }
    return out;
  }

  private static String expand(String key, String value, Map<String, String> env)
      throws IOException {
    Matcher m = REF.matcher(value);
    StringBuilder sb = new StringBuilder();
    while (m.find()) {
      String replacement;
      if (m.group(1).equals("env")) {
        replacement = env.get(m.group(2));
        if (replacement == null) {
          throw new IllegalArgumentException(
              key + " refers to environment variable " + m.group(2) + ", which is not set");
        }
        if (replacement.isBlank() && isSecret(key)) {
          // Never fail open: an empty secret is not "no secret".
          throw new IllegalArgumentException(
              key
                  + " refers to environment variable "
                  + m.group(2)
                  + ", which is empty: set it to the secret");
        }
      } else {
        replacement = readSecretFile(key, m.group(2));
      }
      m.appendReplacement(sb, Matcher.quoteReplacement(replacement));
    }
    m.appendTail(sb);
    return sb.toString();
  }

  private static String readSecretFile(String key, String path) throws IOException {
    Path p = Path.of(path);
    if (!Files.isRegularFile(p)) {
      // Name the key and the path, never the content.
      throw new IllegalArgumentException(key + ": file " + path + " does not exist");
    }
    String value = Files.readString(p, StandardCharsets.UTF_8).strip();
    if (value.isEmpty()) {
      // A file named for a key is meant to hold its value: empty never means "no secret".
      throw new IllegalArgumentException(
          key + ": file " + path + " is empty: put the value in it, or remove " + key);
    }
    return value;
  }

  /** {@code teacher.steps} -> {@code DISTILL_TEACHER_STEPS}. */
  static String envName(String key) {
    return "DISTILL_" + key.toUpperCase(Locale.ROOT).replaceAll("[^A-Z0-9]", "_");
  }

  static String redact(String key, String value) {
    return isSecret(key) && !value.isEmpty() ? "*****" : value;
  }

  /** A declared secret, or a key matching Spark's redaction pattern. */
  static boolean isSecret(String key) {
    return ConfigKeys.find(key).map(ConfigKeys.Key::secret).orElse(false)
        || SECRET.matcher(key).find();
  }
}
