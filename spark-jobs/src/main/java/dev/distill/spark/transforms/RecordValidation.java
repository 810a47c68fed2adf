package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.col;

import dev.distill.schemas.avro.LabelStats;
import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.codec.SoftLabelCodec;
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
    int[] ids = new int[rawTokens.size()];
    for (int i = 0; i < ids.length; i++) {
      Object t = rawTokens.get(i);
      if (t == null) {
        return Optional.of(new Violation(Reason.SHAPE_MISMATCH, "token " + i + " is null"));
      }
      ids[i] = (Integer) t;
    }
    if (certainlyValidTopK(r, ids)) {
      return Optional.empty();
    }
    List<Integer> tokens = new ArrayList<>(ids.length);
    for (int t : ids) {
      tokens.add(t);
    }
    return SoftLabelValidator.validate(toTeacherOutput(r, tokens));
  }

  /**
   * A cheap, sufficient test of validity for the top-k codec v1 (issue 14: validation was most of
   * the scan's CPU): true only when {@link SoftLabelValidator#validate(TeacherOutput)} would find
   * nothing. It checks what can fail on bytes that decode: temperature, codec, token ids, the
   * header and shapes, every label id in {@code [0, vocab)} and strictly ascending (so distinct),
   * and the exact length, without turning a probability code into a float. No probability check can
   * fail after a decode: a code is {@code exp(-q / 4096)}, finite in [0, 1], and the decoder
   * divides by the total when it exceeds 1, so the top-k sum stays below {@code 1 + 1e-6}, inside
   * {@link SoftLabelValidator#SUM_TOLERANCE}. Anything else (the sampled codec, a long varint, any
   * failure) is left to the full validator, which names the reason: the answer is the same.
   */
  static boolean certainlyValidTopK(Row r, int[] tokens) {
    return certainlyValidTopK(
        r.<Float>getAs(RawColumns.TEMPERATURE),
        r.getAs(RawColumns.CODEC),
        r.<Integer>getAs(RawColumns.CODEC_VERSION),
        r.<Integer>getAs(RawColumns.VOCAB_SIZE),
        r.getAs(RawColumns.SOFT_LABELS),
        r.<Integer>getAs(RawColumns.TOP_K),
        r.<Integer>getAs(RawColumns.POSITIONS),
        tokens);
  }

  /**
   * {@link #certainlyValidTopK(Row, int[])} on the columns it reads (non-null), so that a caller
   * can pass just those instead of a whole row.
   */
  static boolean certainlyValidTopK(
      float temperature,
      String codec,
      int codecVersion,
      int vocab,
      byte[] b,
      int topK,
      int positions,
      int[] tokens) {
    if (!certainlyValidWithoutLabels(temperature, codec, codecVersion, vocab, tokens)) {
      return false;
    }
    return certainlyValidLabelBytes(b, tokens.length, topK, positions, vocab);
  }

  /**
   * The part of {@link #certainlyValidTopK(float, String, int, int, byte[], int, int, int[])} that
   * reads the soft-label bytes: the header and shapes against {@code tokenCount}, {@code topK} and
   * {@code positions}, every label id in {@code [0, vocab)} and strictly ascending, the exact
   * length. CurateJob's single read (issue 14) runs it on the write pass, where the rest has been
   * checked by the first pass.
   */
  public static boolean certainlyValidLabelBytes(
      byte[] b, int tokenCount, int topK, int positions, int vocab) {
    // SoftLabelCodec's layout: magic 0xD1, version, varint P, varint k, then per position k
    // varint id gaps and k + 1 uint16 codes.
    if (b.length < 2 || (b[0] & 0xFF) != 0xD1 || (b[1] & 0xFF) != SoftLabelCodec.VERSION) {
      return false;
    }
    int[] at = {2};
    int p = shortVarint(b, at);
    int k = shortVarint(b, at);
    if (p < 0
        || k <= 0
        || (long) p * k > b.length
        || p != tokenCount - 1
        || k != topK
        || positions != p
        || k > vocab) {
      return false;
    }
    int codes = 2 * (k + 1);
    for (int pos = 0; pos < p; pos++) {
      long prev = -1;
      for (int j = 0; j < k; j++) {
        int v = shortVarint(b, at);
        if (v < 0) {
          return false;
        }
        long id = prev < 0 ? v : prev + 1 + v;
        if (id >= vocab) {
          return false;
        }
        prev = id;
      }
      at[0] += codes;
      if (at[0] > b.length) {
        return false;
      }
    }
    return at[0] == b.length;
  }

  /**
   * The part of {@link #certainlyValidTopK(float, String, int, int, byte[], int, int, int[])} that
   * does not read the soft-label bytes: temperature, codec and version, every token id in {@code
   * [0, vocab)}. CurateJob's single read (issue 14) decides on rows that pass it and checks the
   * rest, the bytes, in its write pass.
   */
  static boolean certainlyValidWithoutLabels(
      float temperature, String codec, int codecVersion, int vocab, int[] tokens) {
    if (!(temperature > 0f) || !Float.isFinite(temperature)) {
      return false;
    }
    if (!SoftLabelCodec.NAME.equals(codec) || codecVersion != SoftLabelCodec.VERSION) {
      return false;
    }
    for (int t : tokens) {
      if (t < 0 || t >= vocab) {
        return false;
      }
    }
    return true;
  }

  /** A varint of at most 4 bytes at {@code at[0]} (advanced); -1 when longer or truncated. */
  private static int shortVarint(byte[] b, int[] at) {
    int result = 0;
    for (int shift = 0; shift < 28; shift += 7) {
      if (at[0] >= b.length) {
        return -1;
      }
      int x = b[at[0]++] & 0xFF;
      result |= (x & 0x7F) << shift;
      if ((x & 0x80) == 0) {
        return result;
      }
    }
    return -1;
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
