package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.collect_set;
import static org.apache.spark.sql.functions.concat_ws;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * Refuses to mix provenance in one output (docs/architecture.md, data contracts): all rows must
 * share one tokenizer (id and sha256), one teacher (id and sha256) and one temperature.
 */
public final class ProvenanceGuard {
  private ProvenanceGuard() {}

  /**
   * Returns {@code rows} unchanged when they share one provenance (an empty input passes).
   *
   * @throws MixedProvenanceException naming every distinct value of each mixed property
   */
  public static Dataset<Row> requireSingleProvenance(Dataset<Row> rows) {
    Row seen = rows.agg(sets()[0], sets()[1], sets()[2]).first();
    require(seen.getList(0), seen.getList(1), seen.getList(2));
    return rows;
  }

  /**
   * The three aggregations (distinct tokenizers, teachers, temperatures) that {@link #require}
   * checks, for callers that fold them into an aggregation they run anyway.
   */
  public static Column[] sets() {
    Column[] keys = keys();
    return new Column[] {collect_set(keys[0]), collect_set(keys[1]), collect_set(keys[2])};
  }

  /**
   * The three provenance values of a row: {@code tokenizer_id@sha256}, {@code teacher_id@sha256}
   * and the temperature as a string. Their {@code min} and {@code max} over the rows, taken on a
   * pass that runs anyway ({@code Dataset.observe}), show whether the provenance is mixed (min
   * differs from max) without a job of its own; only then are the {@link #sets} needed.
   */
  public static Column[] keys() {
    return new Column[] {
      concat_ws("@", col(RawColumns.TOKENIZER_ID), col(RawColumns.TOKENIZER_SHA256)),
      concat_ws("@", col(RawColumns.TEACHER_ID), col(RawColumns.TEACHER_SHA256)),
      col(RawColumns.TEMPERATURE).cast("string")
    };
  }

  /**
   * @throws MixedProvenanceException when any of the distinct value lists has more than one value
   */
  public static void require(
      List<Object> tokenizers, List<Object> teachers, List<Object> temperatures) {
    List<String> problems = new ArrayList<>();
    check(problems, "tokenizers (id@sha256)", tokenizers);
    check(problems, "teachers (id@sha256)", teachers);
    check(problems, "temperatures", temperatures);
    if (!problems.isEmpty()) {
      throw new MixedProvenanceException(
          "refusing to mix provenance in one output: "
              + String.join("; ", problems)
              + ". Curate each provenance into its own output.");
    }
  }

  private static void check(List<String> problems, String what, List<Object> values) {
    if (values.size() > 1) {
      TreeSet<String> sorted = new TreeSet<>();
      values.forEach(v -> sorted.add(String.valueOf(v)));
      problems.add(values.size() + " distinct " + what + " " + sorted);
    }
  }
}
