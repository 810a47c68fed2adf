package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.when;

import dev.distill.schemas.avro.CuratedExample;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.avro.Schema;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * Raw rows (with {@code split}) to the curated layout: columns named exactly as the fields of the
 * Avro record {@code CuratedExample}, in its order, plus {@code split}, so the student trainer can
 * read the files with parquet-avro by field name.
 *
 * <p>{@code weight} is the {@link ExampleWeights#WEIGHT} column when the rows have one, else 1.0. A
 * chunk row that was not reassembled ({@link ChunkReassembly}) would become its own example, {@code
 * exampleId = recordId#chunk}; CurateJob reassembles chunks first.
 */
public final class CuratedProjection {
  private CuratedProjection() {}

  /** Field names of {@code CuratedExample}, in schema order. */
  public static List<String> curatedFieldNames() {
    return CuratedExample.getClassSchema().getFields().stream()
        .map(Schema.Field::name)
        .collect(Collectors.toList());
  }

  public static Dataset<Row> toCurated(Dataset<Row> rows) {
    Column exampleId =
        when(
                col(RawColumns.CHUNK_COUNT).gt(1),
                concat(
                    col(RawColumns.RECORD_ID),
                    lit("#"),
                    col(RawColumns.CHUNK_INDEX).cast("string")))
            .otherwise(col(RawColumns.RECORD_ID));
    return rows.select(
        exampleId.as("exampleId"),
        col(RawColumns.SOURCE).as("source"),
        col(RawColumns.TOKENS).as("tokens"),
        col(RawColumns.SOFT_LABELS).as("softLabels"),
        (java.util.Arrays.asList(rows.columns()).contains(ExampleWeights.WEIGHT)
                ? col(ExampleWeights.WEIGHT).cast("float")
                : lit(1.0f))
            .as("weight"),
        col(RawColumns.MEAN_ENTROPY).cast("float").as("meanEntropy"),
        col(RawColumns.MEAN_TOPK_MASS).cast("float").as("meanTopkMass"),
        col(RawColumns.TEACHER_ID).as("teacherId"),
        col(RawColumns.TEACHER_SHA256).as("teacherSha256"),
        col(RawColumns.TOKENIZER_ID).as("tokenizerId"),
        col(RawColumns.TOKENIZER_SHA256).as("tokenizerSha256"),
        col(RawColumns.VOCAB_SIZE).cast("int").as("vocabSize"),
        col(RawColumns.TEMPERATURE).cast("float").as("temperature"),
        col(RawColumns.TOP_K).cast("int").as("topK"),
        col(RawColumns.CODEC).as("codec"),
        col(RawColumns.CODEC_VERSION).cast("int").as("codecVersion"),
        col(RawColumns.SCHEMA_VERSION).cast("int").as("schemaVersion"),
        col(SplitAssignment.SPLIT));
  }
}
