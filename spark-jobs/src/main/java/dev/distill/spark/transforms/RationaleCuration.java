package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat;
import static org.apache.spark.sql.functions.expr;
import static org.apache.spark.sql.functions.length;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.posexplode;
import static org.apache.spark.sql.functions.when;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * Curation of chain-of-thought rationales, from teacher outputs in the nested {@code TeacherOutput}
 * layout (one row per prompt with an array of n sampled rationales).
 *
 * <p>Every rationale gets one {@value #DECISION}, checked in this order:
 *
 * <ol>
 *   <li>{@code NO_ANSWER}: the answer pattern found nothing;
 *   <li>{@code TOO_SHORT} / {@code TOO_LONG}: text length outside the bounds;
 *   <li>{@code INCONSISTENT}: its answer differs from the majority answer of the prompt's n
 *       rationales (self-consistency, Wang et al. 2023; ties broken by the smallest answer);
 *   <li>{@code DISAGREES_WITH_GOLD}: the majority answer differs from the gold answer, when the
 *       prompt has one and agreement is required;
 *   <li>{@code KEPT} otherwise.
 * </ol>
 */
public final class RationaleCuration {
  public static final String DECISION = "decision";
  static final String KEPT = "KEPT";

  /**
   * @param minChars shortest rationale text kept
   * @param maxChars longest rationale text kept
   * @param requireGoldAgreement drop prompts whose majority answer differs from the gold answer
   */
  public record Options(int minChars, int maxChars, boolean requireGoldAgreement) {
    public Options {
      if (minChars < 0 || maxChars < minChars) {
        throw new IllegalArgumentException("need 0 <= minChars <= maxChars");
      }
    }
  }

  private RationaleCuration() {}

  /** The provenance fields a curated example carries, under the same names. */
  private static final List<String> PROVENANCE_FIELDS =
      List.of(
          "teacherId",
          "teacherSha256",
          "tokenizerId",
          "tokenizerSha256",
          "vocabSize",
          "temperature",
          "topK",
          "codec",
          "codecVersion",
          "schemaVersion");

  /** Every decision, in the order they are checked. */
  public static final List<String> DECISIONS =
      List.of("NO_ANSWER", "TOO_SHORT", "TOO_LONG", "INCONSISTENT", "DISAGREES_WITH_GOLD", KEPT);

  /**
   * The majority answer of a prompt's rationales, from its own row (issue 14: no shuffle and no
   * self-join): among the distinct non-null answers, the one with the most votes, ties broken by
   * the smallest answer, as {@code array_min} of {@code (-votes, answer)} structs; null when no
   * rationale has an answer.
   */
  static final String MAJORITY_ANSWER =
      "array_min(transform("
          + "array_distinct(filter(transform(rationales, r -> r.answer), a -> a IS NOT NULL)), "
          + "a -> named_struct('negVotes', -size(filter(rationales, r -> r.answer = a)), "
          + "'answer', a))).answer";

  /**
   * One row per rationale with its decision, the prompt's majority answer and the record's
   * provenance. A narrow pipeline: each prompt's row is decided on its own (all its rationales are
   * in it), so no Spark job or shuffle is added.
   */
  public static Dataset<Row> annotate(Dataset<Row> teacherOutputs, Options o) {
    Dataset<Row> exploded =
        teacherOutputs.select(
            col("recordId"),
            col("source"),
            col("goldAnswer"),
            col("stats"),
            col("provenance"),
            expr(MAJORITY_ANSWER).as("majorityAnswer"),
            posexplode(col("rationales")).as(new String[] {"rationaleIndex", "r"}));
    Column len = length(col("r.text"));
    Column decision =
        when(col("r.answer").isNull(), lit("NO_ANSWER"))
            .when(len.lt(o.minChars()), lit("TOO_SHORT"))
            .when(len.gt(o.maxChars()), lit("TOO_LONG"))
            .when(col("r.answer").notEqual(col("majorityAnswer")), lit("INCONSISTENT"))
            .when(
                lit(o.requireGoldAgreement())
                    .and(col("goldAnswer").isNotNull())
                    .and(col("majorityAnswer").notEqual(col("goldAnswer"))),
                lit("DISAGREES_WITH_GOLD"))
            .otherwise(lit(KEPT));
    return exploded.withColumn(DECISION, decision);
  }

  /**
   * Kept rationales as curated examples (the columns of {@code CuratedExample}, see {@link
   * CuratedProjection}), each rationale's tokens (prompt then completion) with its soft labels. The
   * split goes by the prompt's record id, so all rationales of one problem land together.
   */
  public static Dataset<Row> toCurated(Dataset<Row> annotated, double valFraction) {
    Dataset<Row> kept = annotated.where(col(DECISION).equalTo(KEPT));
    List<Column> columns = new ArrayList<>();
    columns.add(
        concat(col("recordId"), lit("#r"), col("rationaleIndex").cast("string")).as("exampleId"));
    columns.add(col("source"));
    columns.add(col("r.tokenIds").as("tokens"));
    columns.add(col("r.softLabels").as("softLabels"));
    columns.add(lit(1.0f).as("weight"));
    columns.add(col("stats.meanEntropy").as("meanEntropy"));
    columns.add(col("stats.meanTopkMass").as("meanTopkMass"));
    for (String field : PROVENANCE_FIELDS) {
      columns.add(col("provenance." + field).as(field));
    }
    columns.add(col("recordId").as(RawColumns.RECORD_ID));
    Dataset<Row> curated = kept.select(columns.toArray(new Column[0]));
    return SplitAssignment.assign(curated, valFraction).drop(RawColumns.RECORD_ID);
  }
}
