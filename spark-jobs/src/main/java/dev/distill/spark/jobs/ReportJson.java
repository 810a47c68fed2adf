package dev.distill.spark.jobs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * The jobs' report files: JSON written by Jackson from ordered maps, so keys keep their order,
 * counts stay integers and every string is escaped. A non-finite number is written as {@code null}
 * (JSON has no NaN).
 */
final class ReportJson {
  /** Two-space indent, {@code "key": value}, {@code {}} and {@code []} when empty. */
  private static final ObjectWriter WRITER =
      new ObjectMapper()
          .writer(
              new DefaultPrettyPrinter()
                  .withSeparators(
                      Separators.createDefaultInstance()
                          .withObjectFieldValueSpacing(Separators.Spacing.AFTER)
                          .withObjectEmptySeparator("")
                          .withArrayEmptySeparator("")));

  private ReportJson() {}

  /** An empty JSON object whose keys keep the order they are put in. */
  static Map<String, Object> object() {
    return new LinkedHashMap<>();
  }

  /** {@code v}, or null (JSON's null) when it is NaN or infinite. */
  static Double finite(Double v) {
    return v == null || !Double.isFinite(v) ? null : v;
  }

  /**
   * The pretty-printed JSON of {@code tree} (maps, lists, strings, numbers, null), one line end.
   */
  static String toJson(Object tree) {
    try {
      return WRITER.writeValueAsString(tree) + "\n";
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException("cannot write a report as JSON", e);
    }
  }

  /** Writes {@code tree} as JSON to {@code path} (any Hadoop file system), replacing it. */
  static void write(Configuration hadoop, String path, Object tree) throws IOException {
    Path p = new Path(path);
    try (OutputStream out = p.getFileSystem(hadoop).create(p, true)) {
      out.write(toJson(tree).getBytes(StandardCharsets.UTF_8));
    }
  }
}
