package dev.distill.teacher.io;

import dev.distill.schemas.avro.Prompt;
import dev.distill.teacher.labeling.PromptLabeler.Reason;
import dev.distill.teacher.labeling.PromptLabeler.Rejection;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.avro.AvroParquetReader;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.util.HadoopInputFile;

/**
 * Reads prompts from Parquet (one file, or every {@code *.parquet} in a folder, skipping {@code _}
 * and {@code .} files): columns {@code prompt_id} (or {@code promptId}) and {@code text} required,
 * {@code source}, {@code gold_answer} (or {@code goldAnswer}) and {@code num_rationales} (or {@code
 * numRationales}) optional, other columns ignored (Parquet folders often carry extra columns). A
 * row with a null id or text ({@code MISSING_FIELD}), a column of the wrong type ({@code
 * WRONG_TYPE}) or a seen id ({@code DUPLICATE_ID} / {@code REPEATED_PROMPT}) is a {@link Rejection}
 * naming the file and row.
 */
public final class ParquetPrompts {
  private ParquetPrompts() {}

  public static JsonlPrompts.Read read(String location, String runId, String defaultSource)
      throws IOException {
    return read(location, runId, defaultSource, 0);
  }

  /**
   * @param defaultRationales rationales asked for by rows without a {@code num_rationales} (or
   *     {@code numRationales}) column
   */
  public static JsonlPrompts.Read read(
      String location, String runId, String defaultSource, int defaultRationales)
      throws IOException {
    Configuration conf = new Configuration();
    Path path = new Path(location);
    FileSystem fs = path.getFileSystem(conf);
    List<Path> files = new ArrayList<>();
    if (fs.getFileStatus(path).isDirectory()) {
      for (FileStatus s : fs.listStatus(path)) {
        String name = s.getPath().getName();
        if (s.isFile()
            && name.endsWith(".parquet")
            && !name.startsWith("_")
            && !name.startsWith(".")) {
          files.add(s.getPath());
        }
      }
      files.sort(null);
      if (files.isEmpty()) {
        throw new IOException(
            "no Parquet files (*.parquet) in "
                + location
                + "; give a folder of prompt Parquet files, a .parquet file or a .jsonl file");
      }
    } else {
      files.add(path);
    }
    List<Prompt> prompts = new ArrayList<>();
    List<JsonlPrompts.Rejected> rejected = new ArrayList<>();
    PromptIds ids = new PromptIds();
    for (Path f : files) {
      try (ParquetReader<GenericRecord> r =
          AvroParquetReader.<GenericRecord>builder(HadoopInputFile.fromPath(f, conf))
              .withConf(conf)
              .build()) {
        long row = 0;
        for (GenericRecord g = r.read(); g != null; g = r.read()) {
          String where = f.getName() + "#" + row++;
          Object id = field(g, "prompt_id", "promptId");
          Object text = field(g, "text", "text");
          Object source = field(g, "source", "source");
          Object gold = field(g, "gold_answer", "goldAnswer");
          Object n = field(g, "num_rationales", "numRationales");
          Rejection problem = check(where, id, text, source, gold, n);
          if (problem != null) {
            rejected.add(
                new JsonlPrompts.Rejected(
                    id instanceof CharSequence && !id.toString().isBlank() ? id.toString() : where,
                    problem));
            continue;
          }
          Prompt p =
              Prompt.newBuilder()
                  .setPromptId(id.toString())
                  .setRunId(runId)
                  .setSource(source == null ? defaultSource : source.toString())
                  .setText(text.toString())
                  .setGoldAnswer(gold == null ? null : gold.toString())
                  .setNumRationales(n == null ? defaultRationales : ((Number) n).intValue())
                  .build();
          Rejection dup = ids.check(p, where);
          if (dup != null) {
            rejected.add(new JsonlPrompts.Rejected(id.toString(), dup));
            continue;
          }
          prompts.add(p);
        }
      } catch (RuntimeException | IOException e) {
        // Parquet says e.g. "... is not a Parquet file. Expected magic number at tail": a
        // truncated or foreign file. Name it and say what to do.
        throw new IOException(
            "cannot read prompts from "
                + f
                + " (truncated, or not a Parquet file?): "
                + firstLine(e.getMessage())
                + "; rewrite it or move it out of the input",
            e);
      }
    }
    return new JsonlPrompts.Read(prompts, rejected);
  }

  /** Why a row is not a prompt, or null when it is one. */
  private static Rejection check(
      String where, Object id, Object text, Object source, Object gold, Object n) {
    if (id == null || id.toString().isBlank()) {
      return missing(where, "prompt_id is missing, null or empty; it is required");
    }
    if (text == null) {
      return missing(where, "text is missing or null; it is required");
    }
    if (!(id instanceof CharSequence)) {
      return wrong(where, "prompt_id must be a string, got " + typeOf(id));
    }
    if (!(text instanceof CharSequence)) {
      return wrong(where, "text must be a string, got " + typeOf(text));
    }
    if (source != null && !(source instanceof CharSequence)) {
      return wrong(where, "source must be a string or null, got " + typeOf(source));
    }
    if (gold != null && !(gold instanceof CharSequence)) {
      return wrong(where, "gold_answer must be a string or null, got " + typeOf(gold));
    }
    if (n != null) {
      boolean integer =
          n instanceof Integer
              || (n instanceof Long l && l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE);
      if (!integer) {
        return wrong(where, "num_rationales must be an integer, got " + typeOf(n));
      }
      if (((Number) n).intValue() < 0) {
        return wrong(where, "num_rationales must be >= 0, got " + n);
      }
    }
    return null;
  }

  private static Rejection missing(String where, String why) {
    return new Rejection(Reason.MISSING_FIELD, where + ": " + why);
  }

  private static Rejection wrong(String where, String why) {
    return new Rejection(Reason.WRONG_TYPE, where + ": " + why);
  }

  private static String firstLine(String m) {
    return m == null ? "" : m.strip().lines().findFirst().orElse("");
  }

  private static String typeOf(Object v) {
    return v instanceof Number
        ? "a number"
        : v instanceof Boolean
            ? "a boolean"
            : v instanceof java.util.Collection<?>
                ? "a list"
                : v instanceof GenericRecord || v instanceof java.util.Map<?, ?>
                    ? "a struct"
                    : v instanceof java.nio.ByteBuffer ? "binary" : v.getClass().getSimpleName();
  }

  private static Object field(GenericRecord g, String snake, String camel) {
    Schema s = g.getSchema();
    if (s.getField(snake) != null) {
      return g.get(snake);
    }
    return s.getField(camel) != null ? g.get(camel) : null;
  }
}
