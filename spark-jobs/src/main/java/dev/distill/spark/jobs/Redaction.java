package dev.distill.spark.jobs;

import java.util.regex.Pattern;

/** Masks config values whose keys look secret (the pattern Spark uses). */
final class Redaction {
  private static final Pattern SECRET =
      Pattern.compile("(?i)secret|password|token|access[.]?key|sasl[.]jaas[.]config");

  private Redaction() {}

  static String redact(String key, String value) {
    return SECRET.matcher(key).find() ? "*********(redacted)" : value;
  }
}
