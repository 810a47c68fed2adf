package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.collect_set;
import static org.apache.spark.sql.functions.concat_ws;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * Refuses to mix provenance in one output (DESIGN.md, data contracts): all rows must share one
 * tokenizer (id and sha256), one teacher (id and sha256) and one temperature.
 */
public final class ProvenanceGuard {
  private ProvenanceGuard() {}

  /**
   * Returns {@code rows} unchanged when they share one provenance (an empty input passes).
   *
   * @throws MixedProvenanceException naming every distinct value of each mixed property
   */
  public static Dataset<Row> requireSingleProvenance(Dataset<Row> rows) {
    Row seen =
        rows.agg(
                collect_set(
                    concat_ws("@", col(RawColumns.TOKENIZER_ID), col(RawColumns.TOKENIZER_SHA256))),
                collect_set(
                    concat_ws("@", col(RawColumns.TEACHER_ID), col(RawColumns.TEACHER_SHA256))),
                collect_set(col(RawColumns.TEMPERATURE).cast("string")))
            .first();
    List<String> problems = new ArrayList<>();
    check(problems, "tokenizers (id@sha256)", seen.getList(0));
    check(problems, "teachers (id@sha256)", seen.getList(1));
    check(problems, "temperatures", seen.getList(2));
    if (!problems.isEmpty()) {
      throw new MixedProvenanceException(
          "refusing to mix provenance in one output: "
              + String.join("; ", problems)
              + ". Curate each provenance into its own output.");
    }
    return rows;
  }

  private static void check(List<String> problems, String what, List<Object> values) {
    if (values.size() > 1) {
      TreeSet<String> sorted = new TreeSet<>();
      values.forEach(v -> sorted.add(String.valueOf(v)));
      problems.add(values.size() + " distinct " + what + " " + sorted);
    }
  }
}
