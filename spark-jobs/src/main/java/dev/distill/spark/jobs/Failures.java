package dev.distill.spark.jobs;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns an exception from deep in Spark into one plain sentence (issue 14): what failed, which file
 * or path, what to do. The original stays the cause (stack trace with {@code --verbose}).
 */
final class Failures {
  private static final Pattern FILE =
      Pattern.compile("(?:reading file|file|File|path|Path)\\s+(\\S+\\.parquet)");
  private static final Pattern ERROR_CLASS = Pattern.compile("^\\[[A-Z_.]+\\]\\s*");

  private Failures() {}

  /** {@code what} failed (e.g. "curation of /data/raw"), because of {@code e}. */
  static JobFailedException of(String what, Throwable e) {
    String file = null;
    Throwable root = e;
    for (Throwable t = e; t != null; t = t.getCause()) {
      root = t;
      if (file == null && t.getMessage() != null) {
        Matcher m = FILE.matcher(t.getMessage());
        if (m.find()) {
          file = m.group(1);
        }
      }
    }
    String reason = firstLine(root.getMessage() == null ? root.toString() : root.getMessage());
    if (file != null) {
      return new JobFailedException(
          what
              + " failed: cannot read Parquet file "
              + file
              + " ("
              + reason
              + "): replace or delete that file (or re-run the job that wrote it), then run again.",
          e);
    }
    return new JobFailedException(
        what + " failed: " + reason + ". Run again with --verbose for the stack trace.", e);
  }

  private static String firstLine(String message) {
    String s = ERROR_CLASS.matcher(message.strip()).replaceFirst("");
    int nl = s.indexOf('\n');
    s = nl < 0 ? s : s.substring(0, nl);
    return s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
  }
}
