package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.length;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.posexplode;
import static org.apache.spark.sql.functions.row_number;
import static org.apache.spark.sql.functions.when;

import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.expressions.WindowSpec;

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
  public static final String KEPT = "KEPT";

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

  /**
   * One row per rationale with its decision, the prompt's majority answer and the record's
   * provenance.
   */
  public static Dataset<Row> annotate(Dataset<Row> teacherOutputs, Options o) {
    Dataset<Row> exploded =
        teacherOutputs.select(
            col("recordId"),
            col("source"),
            col("goldAnswer"),
            col("stats"),
            col("provenance"),
            posexplode(col("rationales")).as(new String[] {"rationaleIndex", "r"}));
    Dataset<Row> answered = exploded.where(col("r.answer").isNotNull());
    WindowSpec byAnswer =
        Window.partitionBy(col("recordId")).orderBy(col("votes").desc(), col("answer").asc());
    Dataset<Row> majority =
        answered
            .groupBy(col("recordId"), col("r.answer").as("answer"))
            .agg(count(lit(1)).as("votes"))
            .withColumn("rank", row_number().over(byAnswer))
            .where(col("rank").equalTo(1))
            .select(col("recordId").as("m_recordId"), col("answer").as("majorityAnswer"));
    Dataset<Row> joined =
        exploded
            .join(majority, exploded.col("recordId").equalTo(majority.col("m_recordId")), "left")
            .drop("m_recordId");
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
    return joined.withColumn(DECISION, decision);
  }

  /**
   * Kept rationales as curated examples (the columns of {@code CuratedExample}, see {@link
   * CuratedProjection}), each rationale's tokens (prompt then completion) with its soft labels. The
   * split goes by the prompt's record id, so all rationales of one problem land together.
   */
  public static Dataset<Row> toCurated(Dataset<Row> annotated, double valFraction) {
    Dataset<Row> kept = annotated.where(col(DECISION).equalTo(KEPT));
    Dataset<Row> curated =
        kept.select(
            concat(col("recordId"), lit("#r"), col("rationaleIndex").cast("string"))
                .as("exampleId"),
            col("source"),
            col("r.tokenIds").as("tokens"),
            col("r.softLabels").as("softLabels"),
            lit(1.0f).as("weight"),
            col("stats.meanEntropy").as("meanEntropy"),
            col("stats.meanTopkMass").as("meanTopkMass"),
            col("provenance.teacherId").as("teacherId"),
            col("provenance.teacherSha256").as("teacherSha256"),
            col("provenance.tokenizerId").as("tokenizerId"),
            col("provenance.tokenizerSha256").as("tokenizerSha256"),
            col("provenance.vocabSize").as("vocabSize"),
            col("provenance.temperature").as("temperature"),
            col("provenance.topK").as("topK"),
            col("provenance.codec").as("codec"),
            col("provenance.codecVersion").as("codecVersion"),
            col("provenance.schemaVersion").as("schemaVersion"),
            col("recordId").as(RawColumns.RECORD_ID));
    return SplitAssignment.assign(curated, valFraction).drop(RawColumns.RECORD_ID);
  }
}
