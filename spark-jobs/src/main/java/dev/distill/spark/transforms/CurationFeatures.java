package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.array;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;

import dev.distill.schemas.validation.Reason;
import dev.distill.schemas.validation.Violation;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.commons.codec.digest.DigestUtils;
import org.apache.spark.api.java.function.FlatMapGroupsFunction;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.api.java.UDF10;
import org.apache.spark.sql.api.java.UDF3;
import org.apache.spark.sql.api.java.UDF7;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import scala.jdk.javaapi.CollectionConverters;

/**
 * CurateJob's narrow path (issue 14): every decision of curation is taken on rows without their
 * soft-label bytes, which are read, decoded and validated once and then left on disk until the
 * final write.
 *
 * <ol>
 *   <li>{@link #scan}: one pass over the raw rows validates each (the soft labels are decoded here,
 *       and only here) and keeps every column but {@code soft_labels}, plus a 64-bit hash of the
 *       label bytes (a deterministic dedupe tie-break) and a <em>locator</em>: {@code (file index
 *       << 40) | row index in the file}, from Spark's {@code _metadata} columns, unique per input
 *       row; for a valid row that is not a chunk, its features too: the content hash (SHA-256 of
 *       the token ids), the near-duplicate key and the MinHash/LSH band keys.
 *   <li>{@link #examples}: valid rows to examples; chunked records are reassembled on their tokens
 *       and summary columns (the same convention and checks as {@link ChunkReassembly}), carry the
 *       locators of all their rows in {@value #LOCS} and get their features from {@link #features}
 *       (one Java call per example).
 * </ol>
 *
 * CurateJob then writes exactly the input rows whose locator belongs to a kept example.
 */
public final class CurationFeatures {
  public static final String FILE = "_file";
  public static final String ROW = "_row";
  public static final String LOC = "_loc";
  public static final String LOCS = "_locs";
  public static final String LABELS_HASH = "_labels_hash";

  /** Bits of the locator that hold the row index within a file. */
  public static final int ROW_BITS = 40;

  /** Rows after {@link #scan}: the raw columns but {@code soft_labels}, plus four. */
  public static final StructType NARROW = narrowSchema();

  /** Valid narrow rows: {@link #NARROW} without the two reject columns (its last two). */
  static final StructType VALID =
      DataTypes.createStructType(java.util.Arrays.copyOf(NARROW.fields(), NARROW.size() - 2));

  /** Rows after {@link #examples}. */
  public static final StructType EXAMPLE =
      VALID
          .add(LOCS, DataTypes.createArrayType(DataTypes.LongType, false), false)
          .add(ChunkReassembly.CHUNK_REJECT, DataTypes.StringType, true)
          .add(ChunkReassembly.CHUNK_ROWS, DataTypes.IntegerType, false);

  private CurationFeatures() {}

  private static StructType narrowSchema() {
    List<StructField> fields = new ArrayList<>();
    for (StructField f : RawColumns.SCHEMA.fields()) {
      if (!f.name().equals(RawColumns.SOFT_LABELS)) {
        fields.add(f);
      }
    }
    fields.add(DataTypes.createStructField(LABELS_HASH, DataTypes.LongType, false));
    fields.add(DataTypes.createStructField(LOC, DataTypes.LongType, false));
    // The features (null on a rejected or chunked row: a chunked record gets them after its
    // reassembly, in features()).
    fields.add(DataTypes.createStructField(Deduplication.CONTENT_HASH, DataTypes.StringType, true));
    fields.add(DataTypes.createStructField(NearDuplicates.KEY, DataTypes.StringType, true));
    fields.add(
        DataTypes.createStructField(
            NearDuplicates.BANDS, DataTypes.createArrayType(DataTypes.LongType, false), true));
    fields.add(
        DataTypes.createStructField(RecordValidation.REJECT_REASON, DataTypes.StringType, true));
    fields.add(
        DataTypes.createStructField(RecordValidation.REJECT_DETAIL, DataTypes.StringType, true));
    return DataTypes.createStructType(fields);
  }

  /** The locator of row {@code row} of file number {@code file}. */
  public static long locator(int file, long row) {
    if (row < 0 || row >= (1L << ROW_BITS)) {
      throw new IllegalArgumentException("row index out of range: " + row);
    }
    return ((long) file << ROW_BITS) | row;
  }

  /** File number of a path as Spark's {@code _metadata.file_path} spells it. */
  public static int fileIndexOf(Map<String, Integer> files, String path) {
    return fileIndex(files, path);
  }

  static int fileIndex(Map<String, Integer> files, String path) {
    Integer i = files.get(path);
    if (i == null) {
      // The same file, spelled with or without the authority ("file:/x" and "file:///x").
      i = files.get(path.replaceFirst("^([a-z0-9]+):/+", "$1:/"));
    }
    if (i == null) {
      throw new IllegalStateException(
          "read a row from " + path + ", which is not among the listed input files");
    }
    return i;
  }

  /** 64-bit FNV-1a of the bytes, finished with fmix64. */
  public static long bytesHash(byte[] b) {
    long h = 0xcbf29ce484222325L ^ b.length;
    for (byte x : b) {
      h = (h ^ (x & 0xFF)) * 0x100000001b3L;
    }
    return TokenHashing.fmix64(h);
  }

  /**
   * Validates raw rows ({@link RawColumns#SCHEMA} plus {@value #FILE} string and {@value #ROW}
   * long) and returns {@link #NARROW} rows: one pass, one decode of the soft labels per row.
   *
   * @param files file number of every input path ({@code _metadata.file_path} spelling)
   */
  public static Dataset<Row> scan(Dataset<Row> rawWithMeta, Map<String, Integer> files) {
    return scan(rawWithMeta, files, null);
  }

  /**
   * {@link #scan(Dataset, Map)}, and on each valid row with {@code chunk_count <= 1} the features
   * of {@link #features} too (content hash, near-duplicate key, band keys; the bands empty when
   * {@code nearDuplicates} is null), computed from the token objects this pass has already made:
   * one pass and one cache serve validation, exact dedupe and LSH (issue 14: the separate feature
   * pass converted the tokens again and cached a second copy of them).
   */
  public static Dataset<Row> scan(
      Dataset<Row> rawWithMeta, Map<String, Integer> files, NearDuplicates.Params nearDuplicates) {
    StructType in = rawWithMeta.schema();
    int tokensAt = in.fieldIndex(RawColumns.TOKENS);
    int idAt = in.fieldIndex(RawColumns.RECORD_ID);
    int chunkIndexAt = in.fieldIndex(RawColumns.CHUNK_INDEX);
    int chunkCountAt = in.fieldIndex(RawColumns.CHUNK_COUNT);
    int labelsAt = in.fieldIndex(RawColumns.SOFT_LABELS);
    int fileAt = in.fieldIndex(FILE);
    int rowAt = in.fieldIndex(ROW);
    // One UDF per raw row returning only what the scan adds (a struct): the raw columns kept come
    // straight from Spark's own row, never through Java objects. A mapPartitions returning whole
    // narrow rows spent more CPU turning them back into Spark rows (the tokens element by element)
    // than on MinHash (issue 14, JFR of bench/run.sh 50000: 156 of 420 result-stage samples).
    StructType addedType = addedType();
    org.apache.spark.sql.expressions.UserDefinedFunction scanRow =
        functions.udf(
            (UDF1<Row, Row>)
                r -> {
                  Optional<Violation> v = RecordValidation.check(r);
                  Object[] out = new Object[addedType.size()];
                  byte[] labels = r.isNullAt(labelsAt) ? new byte[0] : r.getAs(labelsAt);
                  out[0] = bytesHash(labels);
                  out[1] = locator(fileIndex(files, r.getString(fileAt)), r.getLong(rowAt));
                  if (v.isEmpty() && r.getInt(chunkCountAt) <= 1) {
                    Object[] f =
                        featureValues(
                            r.get(tokensAt),
                            r.getString(idAt),
                            r.getInt(chunkIndexAt),
                            nearDuplicates);
                    System.arraycopy(f, 0, out, 2, f.length);
                  }
                  out[5] = v.map(x -> x.reason().name()).orElse(null);
                  out[6] = v.map(Violation::detail).orElse(null);
                  return RowFactory.create(out);
                },
            addedType);
    // The fast path: a row whose required columns are all present and that passes the cheap,
    // sufficient top-k test (RecordValidation.certainlyValidTopK, the answer for every valid v1
    // row) gets its columns from a UDF on the columns it reads. Only the rest (a null, a
    // sampled-codec or any suspect row) are turned into a whole Java row for the full validator:
    // coalesce evaluates that branch only where the fast one gives null (issue 14: converting
    // every raw row, its 9 strings and its label bytes into a Row was a cost of the scan of its
    // own).
    UDF10<Object, byte[], Float, String, Integer, Integer, Integer, Integer, Integer, Row, Row>
        fast =
            (tokens,
                labels,
                temperature,
                codec,
                codecVersion,
                vocab,
                topK,
                positions,
                chunkCount,
                where) -> {
              int[] ids = nonNullTokens(tokens);
              if (ids == null
                  || !RecordValidation.certainlyValidTopK(
                      temperature, codec, codecVersion, vocab, labels, topK, positions, ids)) {
                return null;
              }
              Object[] out = new Object[addedType.size()];
              out[0] = bytesHash(labels);
              out[1] = locator(fileIndex(files, where.getString(2)), where.getLong(3));
              if (chunkCount <= 1) {
                Object[] f =
                    featureValues(ids, where.getString(0), where.getInt(1), nearDuplicates);
                System.arraycopy(f, 0, out, 2, f.length);
              }
              return RowFactory.create(out);
            };
    org.apache.spark.sql.Column present = requiredPresent(null);
    org.apache.spark.sql.Column fastRow =
        functions.when(
            present,
            functions
                .udf(fast, addedType)
                .apply(
                    col(RawColumns.TOKENS),
                    col(RawColumns.SOFT_LABELS),
                    col(RawColumns.TEMPERATURE),
                    col(RawColumns.CODEC),
                    col(RawColumns.CODEC_VERSION),
                    col(RawColumns.VOCAB_SIZE),
                    col(RawColumns.TOP_K),
                    col(RawColumns.POSITIONS),
                    col(RawColumns.CHUNK_COUNT),
                    idAndPlace()));
    return narrowRows(
        rawWithMeta,
        functions.coalesce(
            fastRow,
            scanRow.apply(
                functions.struct(
                    java.util.Arrays.stream(in.fieldNames())
                        .map(functions::col)
                        .toArray(org.apache.spark.sql.Column[]::new)))));
  }

  /** What a scan adds to a row: the fields of {@link #NARROW} after the raw columns it keeps. */
  private static StructType addedType() {
    List<StructField> added = new ArrayList<>();
    for (int i = RawColumns.SCHEMA.size() - 1; i < NARROW.size(); i++) {
      added.add(NARROW.fields()[i]);
    }
    return DataTypes.createStructType(added);
  }

  /** Whether every required raw column but {@code except} (null: none) is not null. */
  private static org.apache.spark.sql.Column requiredPresent(String except) {
    org.apache.spark.sql.Column present = lit(true);
    for (String name : RawColumns.names()) {
      if (!RawColumns.OPTIONAL.contains(name) && !name.equals(except)) {
        present = present.and(col(name).isNotNull());
      }
    }
    return present;
  }

  /** Record id, chunk index, file and row in one struct (a UDF takes at most 10 arguments). */
  private static org.apache.spark.sql.Column idAndPlace() {
    return functions.struct(
        col(RawColumns.RECORD_ID), col(RawColumns.CHUNK_INDEX), col(FILE), col(ROW));
  }

  /**
   * {@link #NARROW} rows: the raw columns kept from {@code rows}, the rest from {@code added} (a
   * struct of {@link #addedType}). A separate projection: the optimiser does not inline a UDF
   * referenced several times.
   */
  private static Dataset<Row> narrowRows(Dataset<Row> rows, org.apache.spark.sql.Column added) {
    String scanned = "_scanned";
    StructType addedType = addedType();
    List<org.apache.spark.sql.Column> cols = new ArrayList<>();
    for (StructField f : NARROW.fields()) {
      cols.add(
          addedType.getFieldIndex(f.name()).isDefined()
              ? col(scanned + "." + f.name()).as(f.name())
              : col(f.name()));
    }
    return rows.withColumn(scanned, added).select(cols.toArray(new org.apache.spark.sql.Column[0]));
  }

  /** The reject reason {@link #narrowScan} gives a row it cannot decide without its labels. */
  public static final String SUSPECT = "SUSPECT";

  /**
   * The reasons {@link RecordValidation#check} finds before it reads the soft-label bytes (a null
   * column, a null token, the temperature, the codec name, a token id): on a row whose labels are
   * not null, the same reason and detail with any label bytes.
   */
  private static final java.util.Set<Reason> BEFORE_LABELS =
      java.util.EnumSet.of(
          Reason.SHAPE_MISMATCH,
          Reason.NON_POSITIVE_TEMPERATURE,
          Reason.UNKNOWN_CODEC,
          Reason.TOKEN_OUT_OF_VOCAB);

  /** Label bytes no codec decodes (its magic byte is neither codec's). */
  private static final byte[] UNDECODABLE = {0};

  /**
   * The first pass of CurateJob's single read (issue 14): {@link #NARROW} rows like {@link #scan},
   * computed without the {@code soft_labels} column, which is dropped before any UDF so that
   * Parquet does not read it. {@value #LABELS_HASH} is 0 (unknown here; CurateJob falls back to
   * {@link #scan} when its dedupe order would need it). A row whose columns but the labels pass
   * {@link RecordValidation#certainlyValidWithoutLabels} is taken as valid (its labels are checked
   * by {@link #certainlyValidLabels} on the write pass); any other row goes through {@link
   * RecordValidation#check} with undecodable labels: a reason found before the labels are read
   * ({@link #BEFORE_LABELS}) is the validator's own, provided the labels are not null (CurateJob's
   * write pass checks that); anything else gets {@value #SUSPECT}, and CurateJob falls back to
   * {@link #scan}.
   */
  public static Dataset<Row> narrowScan(
      Dataset<Row> rawWithMeta, Map<String, Integer> files, NearDuplicates.Params nearDuplicates) {
    Dataset<Row> narrowIn = rawWithMeta.drop(RawColumns.SOFT_LABELS);
    StructType in = narrowIn.schema();
    int fileAt = in.fieldIndex(FILE);
    int rowAt = in.fieldIndex(ROW);
    StructType addedType = addedType();
    UDF7<Float, Object, String, Integer, Integer, Integer, Row, Row> fast =
        (temperature, tokens, codec, codecVersion, vocab, chunkCount, where) -> {
          int[] ids = nonNullTokens(tokens);
          if (ids == null
              || !RecordValidation.certainlyValidWithoutLabels(
                  temperature, codec, codecVersion, vocab, ids)) {
            return null;
          }
          Object[] out = new Object[addedType.size()];
          out[0] = 0L;
          out[1] = locator(fileIndex(files, where.getString(2)), where.getLong(3));
          if (chunkCount <= 1) {
            Object[] f = featureValues(ids, where.getString(0), where.getInt(1), nearDuplicates);
            System.arraycopy(f, 0, out, 2, f.length);
          }
          return RowFactory.create(out);
        };
    UDF1<Row, Row> slow =
        r -> {
          Object[] out = new Object[addedType.size()];
          out[0] = 0L;
          out[1] = locator(fileIndex(files, r.getString(fileAt)), r.getLong(rowAt));
          Optional<Violation> v;
          try {
            v = RecordValidation.check(r);
          } catch (RuntimeException e) {
            v = Optional.empty();
          }
          if (v.isPresent() && BEFORE_LABELS.contains(v.get().reason())) {
            out[5] = v.get().reason().name();
            out[6] = v.get().detail();
          } else {
            out[5] = SUSPECT;
            out[6] = "decided by the validator on the soft labels";
          }
          return RowFactory.create(out);
        };
    List<org.apache.spark.sql.Column> all = new ArrayList<>();
    for (String name : in.fieldNames()) {
      all.add(col(name));
    }
    all.add(lit(UNDECODABLE).as(RawColumns.SOFT_LABELS));
    org.apache.spark.sql.Column narrowRow =
        functions.when(
            requiredPresent(RawColumns.SOFT_LABELS),
            functions
                .udf(fast, addedType)
                .apply(
                    col(RawColumns.TEMPERATURE),
                    col(RawColumns.TOKENS),
                    col(RawColumns.CODEC),
                    col(RawColumns.CODEC_VERSION),
                    col(RawColumns.VOCAB_SIZE),
                    col(RawColumns.CHUNK_COUNT),
                    idAndPlace()));
    return narrowRows(
        narrowIn,
        functions.coalesce(
            narrowRow,
            functions
                .udf(slow, addedType)
                .apply(functions.struct(all.toArray(new org.apache.spark.sql.Column[0])))));
  }

  /**
   * The checks of {@link #scan} that read the soft-label bytes, for CurateJob's write pass (issue
   * 14): {@link RecordValidation#certainlyValidLabelBytes} (nulls are false). The checks that do
   * not read the bytes were made by {@link #narrowScan} on every row it did not reject, so the
   * tokens are passed as their count (no conversion of the token array). False does not always mean
   * invalid (a long varint): the caller then runs the two-pass curation, whose validator decides.
   */
  public static boolean certainlyValidLabels(
      byte[] labels, Integer tokenCount, Integer vocab, Integer topK, Integer positions) {
    return labels != null
        && tokenCount != null
        && vocab != null
        && topK != null
        && positions != null
        && RecordValidation.certainlyValidLabelBytes(labels, tokenCount, topK, positions, vocab);
  }

  /**
   * Valid {@link #NARROW} rows (reject columns null) to {@link #EXAMPLE} rows: single rows pass
   * with their own locator and the features the scan computed; the rows of a chunked record become
   * one row (or one rejected row) holding every locator of the record, its features computed here
   * ({@link #features}). With {@code chunked} false the caller knows that no valid row has {@code
   * chunk_count > 1} (e.g. counted on a pass that ran anyway), so the plan has no shuffle by record
   * id: one Spark job less.
   */
  public static Dataset<Row> examples(
      Dataset<Row> valid, boolean chunked, NearDuplicates.Params nearDuplicates) {
    Dataset<Row> single =
        valid
            .where(col(RawColumns.CHUNK_COUNT).leq(1))
            .withColumn(LOCS, array(col(LOC)))
            .withColumn(ChunkReassembly.CHUNK_REJECT, lit(null).cast("string"))
            .withColumn(ChunkReassembly.CHUNK_ROWS, lit(1));
    if (!chunked) {
      return single;
    }
    int idAt = NARROW.fieldIndex(RawColumns.RECORD_ID);
    Dataset<Row> multi =
        valid
            .where(col(RawColumns.CHUNK_COUNT).gt(1))
            .groupByKey((MapFunction<Row, String>) r -> r.getString(idAt), Encoders.STRING())
            .flatMapGroups(
                (FlatMapGroupsFunction<String, Row, Row>)
                    (id, it) -> List.of(mergeNarrow(it)).iterator(),
                Encoders.row(EXAMPLE));
    return single.unionByName(features(multi, nearDuplicates));
  }

  private static int at(String name) {
    return NARROW.fieldIndex(name);
  }

  private static Comparator<Row> order() {
    Comparator<Row> byIndex = Comparator.comparingInt(r -> r.getInt(at(RawColumns.CHUNK_INDEX)));
    return byIndex
        .thenComparing(
            r ->
                r.isNullAt(at(RawColumns.KAFKA_PARTITION))
                    ? Integer.MAX_VALUE
                    : r.getInt(at(RawColumns.KAFKA_PARTITION)))
        .thenComparing(
            r ->
                r.isNullAt(at(RawColumns.KAFKA_OFFSET))
                    ? Long.MAX_VALUE
                    : r.getLong(at(RawColumns.KAFKA_OFFSET)))
        .thenComparing(r -> r.getLong(at(LOC)));
  }

  /** {@link ChunkReassembly#merge} on narrow rows: tokens and summary columns only. */
  static Row mergeNarrow(Iterator<Row> it) {
    List<Row> all = new ArrayList<>();
    it.forEachRemaining(all::add);
    all.sort(order());
    int total = all.size();
    long[] locs = new long[total];
    for (int i = 0; i < total; i++) {
      locs[i] = all.get(i).getLong(at(LOC));
    }
    int n = all.get(0).getInt(at(RawColumns.CHUNK_COUNT));
    List<Row> chunks = new ArrayList<>();
    boolean consistent = true;
    for (Row r : all) {
      if (r.getInt(at(RawColumns.CHUNK_COUNT)) != n) {
        consistent = false;
      }
      int ci = r.getInt(at(RawColumns.CHUNK_INDEX));
      if (!chunks.isEmpty()
          && chunks.get(chunks.size() - 1).getInt(at(RawColumns.CHUNK_INDEX)) == ci) {
        continue; // a redelivered copy of the same chunk
      }
      chunks.add(r);
    }
    boolean complete = consistent && chunks.size() == n;
    for (int i = 0; complete && i < n; i++) {
      complete = chunks.get(i).getInt(at(RawColumns.CHUNK_INDEX)) == i;
    }
    if (!complete) {
      return rejected(all.get(0), locs, ChunkReassembly.INCOMPLETE_CHUNKS, total);
    }
    List<Integer> tokens = new ArrayList<>();
    String[] stats = {
      RawColumns.MEAN_ENTROPY,
      RawColumns.MEAN_TOP1_MARGIN,
      RawColumns.MEAN_TOPK_MASS,
      RawColumns.LABEL_OUTSIDE_TOPK_RATE
    };
    double[] weighted = new double[stats.length];
    int positions = 0;
    long labelsHash = 0;
    // Validation checked that each chunk's decoded k equals its top_k column.
    int k = chunks.get(0).getInt(at(RawColumns.TOP_K));
    for (int i = 0; i < n; i++) {
      Row c = chunks.get(i);
      List<Object> t = c.getList(at(RawColumns.TOKENS));
      if (i > 0) {
        if (t.isEmpty() || !t.get(0).equals(tokens.get(tokens.size() - 1))) {
          return rejected(chunks.get(0), locs, ChunkReassembly.CHUNK_MISMATCH, total);
        }
        t = t.subList(1, t.size());
      }
      if (c.getInt(at(RawColumns.TOP_K)) != k) {
        return rejected(chunks.get(0), locs, ChunkReassembly.CHUNK_MISMATCH, total);
      }
      for (Object o : t) {
        tokens.add((Integer) o);
      }
      int p = c.getInt(at(RawColumns.POSITIONS));
      positions += p;
      for (int s = 0; s < stats.length; s++) {
        weighted[s] += p * (double) c.getFloat(at(stats[s]));
      }
      labelsHash = TokenHashing.fmix64(labelsHash * 31 + c.getLong(at(LABELS_HASH)));
    }
    Object[] v = values(chunks.get(0), locs);
    v[at(RawColumns.CHUNK_INDEX)] = 0;
    v[at(RawColumns.CHUNK_COUNT)] = 1;
    v[at(RawColumns.TOKENS)] = CollectionConverters.asScala(tokens).toSeq();
    v[at(RawColumns.POSITIONS)] = positions;
    v[at(LABELS_HASH)] = labelsHash;
    for (int s = 0; s < stats.length; s++) {
      v[at(stats[s])] = positions == 0 ? 0f : (float) (weighted[s] / positions);
    }
    v[EXAMPLE.size() - 2] = null;
    v[EXAMPLE.size() - 1] = total;
    return RowFactory.create(v);
  }

  private static Object[] values(Row r, long[] locs) {
    Object[] v = new Object[EXAMPLE.size()];
    for (int i = 0; i < VALID.size(); i++) {
      v[i] = r.get(i);
    }
    v[VALID.size()] = seq(locs);
    return v;
  }

  private static Row rejected(Row first, long[] locs, String reason, int rows) {
    Object[] v = values(first, locs);
    v[EXAMPLE.size() - 2] = reason;
    v[EXAMPLE.size() - 1] = rows;
    return RowFactory.create(v);
  }

  private static scala.collection.immutable.Seq<Long> seq(long[] values) {
    List<Long> l = new ArrayList<>(values.length);
    for (long x : values) {
      l.add(x);
    }
    return CollectionConverters.asScala(l).toSeq();
  }

  /** The token ids of a Spark {@code array<int>} value; null when an element is null. */
  private static int[] nonNullTokens(Object value) {
    java.util.Iterator<?> it =
        value instanceof scala.collection.Seq<?> seq
            ? CollectionConverters.asJava(seq.iterator())
            : ((List<?>) value).iterator();
    int[] out =
        new int
            [value instanceof scala.collection.Seq<?> seq ? seq.size() : ((List<?>) value).size()];
    for (int i = 0; it.hasNext(); i++) {
      Object t = it.next();
      if (t == null) {
        return null;
      }
      out[i] = (Integer) t;
    }
    return out;
  }

  /** SHA-256 (hex) of the token ids joined by commas, as {@link Deduplication}. */
  public static String contentHash(int[] tokens) {
    StringBuilder b = new StringBuilder(tokens.length * 4);
    for (int i = 0; i < tokens.length; i++) {
      if (i > 0) {
        b.append(',');
      }
      b.append(tokens[i]);
    }
    return DigestUtils.sha256Hex(b.toString()); // of its UTF-8 bytes
  }

  /** {@link NearDuplicates#withKey}'s key in plain Java. */
  static String nearDuplicateKey(String recordId, int chunkIndex, String contentHash) {
    String c = Integer.toString(chunkIndex);
    c = c.length() >= 6 ? c.substring(0, 6) : "0".repeat(6 - c.length()) + c;
    return recordId + "\u0001" + c + "\u0001" + contentHash.substring(0, 16);
  }

  /** What {@link #features} computes per example, in one struct. */
  private static final StructType FEATURES =
      new StructType()
          .add(Deduplication.CONTENT_HASH, DataTypes.StringType, false)
          .add(NearDuplicates.KEY, DataTypes.StringType, false)
          .add(NearDuplicates.BANDS, DataTypes.createArrayType(DataTypes.LongType, false), false);

  private static final String FEATURES_COLUMN = "_features";

  /**
   * Adds {@value Deduplication#CONTENT_HASH}, {@value NearDuplicates#KEY} and {@value
   * NearDuplicates#BANDS} (empty when {@code nearDuplicates} is null): one Java call per example (a
   * UDF on the tokens, record id and chunk index, returning a struct). Only those three columns
   * become Java objects and only the struct is converted back: a {@code mapPartitions} over whole
   * rows turned every column into objects and back (issue 14: that conversion was 18% of the
   * curation's CPU samples, JFR).
   */
  public static Dataset<Row> features(Dataset<Row> examples, NearDuplicates.Params nearDuplicates) {
    org.apache.spark.sql.expressions.UserDefinedFunction f =
        functions.udf(
            (UDF3<Object, String, Integer, Row>)
                (t, id, chunk) -> RowFactory.create(featureValues(t, id, chunk, nearDuplicates)),
            FEATURES);
    // A separate projection: the optimiser does not inline a UDF referenced three times. The
    // three columns replace those of the same names (the scan's, null on chunked rows) in place.
    List<org.apache.spark.sql.Column> cols = new ArrayList<>();
    List<String> names = List.of(examples.columns());
    for (String c : names) {
      cols.add(
          FEATURES.getFieldIndex(c).isDefined() ? col(FEATURES_COLUMN + "." + c).as(c) : col(c));
    }
    for (StructField c : FEATURES.fields()) {
      if (!names.contains(c.name())) {
        cols.add(col(FEATURES_COLUMN + "." + c.name()).as(c.name()));
      }
    }
    return examples
        .withColumn(
            FEATURES_COLUMN,
            f.apply(col(RawColumns.TOKENS), col(RawColumns.RECORD_ID), col(RawColumns.CHUNK_INDEX)))
        .select(cols.toArray(new org.apache.spark.sql.Column[0]));
  }

  /** {content hash, near-duplicate key, band keys} of one example (the {@link #FEATURES} row). */
  private static Object[] featureValues(
      Object t, String id, int chunk, NearDuplicates.Params nearDuplicates) {
    return featureValues(TokenHashing.tokens(t), id, chunk, nearDuplicates);
  }

  private static Object[] featureValues(
      int[] tokens, String id, int chunk, NearDuplicates.Params nearDuplicates) {
    String hash = contentHash(tokens);
    long[] bands =
        nearDuplicates == null
            ? new long[0]
            : NearDuplicates.bandKeysOfTokens(tokens, nearDuplicates);
    return new Object[] {hash, nearDuplicateKey(id, chunk, hash), bands};
  }
}
