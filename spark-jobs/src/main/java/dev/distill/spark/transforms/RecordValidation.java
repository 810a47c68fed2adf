package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.col;

import dev.distill.schemas.avro.LabelStats;
import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.validation.Reason;
import dev.distill.schemas.validation.SoftLabelValidator;
import dev.distill.schemas.validation.Violation;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Applies the data contract's record rules ({@link SoftLabelValidator}) to raw rows: each row is
 * rebuilt as a {@code TeacherOutput} inside {@code mapPartitions} and validated, and gets {@value
 * #REJECT_REASON} (a {@link Reason} name, null when the row is valid) and {@value #REJECT_DETAIL}.
 */
public final class RecordValidation {
  public static final String REJECT_REASON = "reject_reason";
  public static final String REJECT_DETAIL = "reject_detail";

  private RecordValidation() {}

  /** Raw rows in (raw layout), the same rows out with the two reject columns appended. */
  public static Dataset<Row> annotate(Dataset<Row> raw) {
    Dataset<Row> normalized = RawColumns.normalize(raw);
    StructType out =
        normalized
            .schema()
            .add(REJECT_REASON, DataTypes.StringType, true)
            .add(REJECT_DETAIL, DataTypes.StringType, true);
    return normalized.mapPartitions(
        (MapPartitionsFunction<Row, Row>) RecordValidation::annotatePartition, Encoders.row(out));
  }

  /** The rows that passed, without the reject columns. */
  public static Dataset<Row> valid(Dataset<Row> annotated) {
    return annotated.where(col(REJECT_REASON).isNull()).drop(REJECT_REASON, REJECT_DETAIL);
  }

  private static Iterator<Row> annotatePartition(Iterator<Row> in) {
    return new Iterator<>() {
      @Override
      public boolean hasNext() {
        return in.hasNext();
      }

      @Override
      public Row next() {
        Row r = in.next();
        Optional<Violation> v = check(r);
        Object[] values = new Object[r.size() + 2];
        for (int i = 0; i < r.size(); i++) {
          values[i] = r.get(i);
        }
        values[r.size()] = v.map(x -> x.reason().name()).orElse(null);
        values[r.size() + 1] = v.map(Violation::detail).orElse(null);
        return RowFactory.create(values);
      }
    };
  }

  /** Validates one raw row; a row with a null required column is a {@code SHAPE_MISMATCH}. */
  public static Optional<Violation> check(Row r) {
    for (String name : RawColumns.names()) {
      if (!RawColumns.OPTIONAL.contains(name) && r.isNullAt(r.fieldIndex(name))) {
        return Optional.of(new Violation(Reason.SHAPE_MISMATCH, "column " + name + " is null"));
      }
    }
    List<Object> rawTokens = r.getList(r.fieldIndex(RawColumns.TOKENS));
    List<Integer> tokens = new ArrayList<>(rawTokens.size());
    for (int i = 0; i < rawTokens.size(); i++) {
      Object t = rawTokens.get(i);
      if (t == null) {
        return Optional.of(new Violation(Reason.SHAPE_MISMATCH, "token " + i + " is null"));
      }
      tokens.add((Integer) t);
    }
    return SoftLabelValidator.validate(toTeacherOutput(r, tokens));
  }

  /** Rebuilds the record a raw row came from (rationales and gold answer are not in raw rows). */
  static TeacherOutput toTeacherOutput(Row r, List<Integer> tokens) {
    return TeacherOutput.newBuilder()
        .setRecordId(r.getAs(RawColumns.RECORD_ID))
        .setPromptId(r.<String>getAs(RawColumns.PROMPT_ID))
        .setRunId(r.<String>getAs(RawColumns.RUN_ID))
        .setSource(r.<String>getAs(RawColumns.SOURCE))
        .setChunkIndex(r.<Integer>getAs(RawColumns.CHUNK_INDEX))
        .setChunkCount(r.<Integer>getAs(RawColumns.CHUNK_COUNT))
        .setTokens(tokens)
        .setSoftLabels(ByteBuffer.wrap(r.<byte[]>getAs(RawColumns.SOFT_LABELS)))
        .setStats(
            LabelStats.newBuilder()
                .setPositions(r.<Integer>getAs(RawColumns.POSITIONS))
                .setMeanEntropy(r.<Float>getAs(RawColumns.MEAN_ENTROPY))
                .setMeanTop1Margin(r.<Float>getAs(RawColumns.MEAN_TOP1_MARGIN))
                .setMeanTopkMass(r.<Float>getAs(RawColumns.MEAN_TOPK_MASS))
                .setLabelOutsideTopkRate(r.<Float>getAs(RawColumns.LABEL_OUTSIDE_TOPK_RATE))
                .build())
        .setProvenance(
            Provenance.newBuilder()
                .setTeacherId(r.<String>getAs(RawColumns.TEACHER_ID))
                .setTeacherSha256(r.<String>getAs(RawColumns.TEACHER_SHA256))
                .setTokenizerId(r.<String>getAs(RawColumns.TOKENIZER_ID))
                .setTokenizerSha256(r.<String>getAs(RawColumns.TOKENIZER_SHA256))
                .setVocabSize(r.<Integer>getAs(RawColumns.VOCAB_SIZE))
                .setTemperature(r.<Float>getAs(RawColumns.TEMPERATURE))
                .setTopK(r.<Integer>getAs(RawColumns.TOP_K))
                .setCodec(r.<String>getAs(RawColumns.CODEC))
                .setCodecVersion(r.<Integer>getAs(RawColumns.CODEC_VERSION))
                .setSchemaVersion(r.<Integer>getAs(RawColumns.SCHEMA_VERSION))
                .build())
        .setCreatedAtMs(r.<Long>getAs(RawColumns.CREATED_AT_MS))
        .build();
  }
}
