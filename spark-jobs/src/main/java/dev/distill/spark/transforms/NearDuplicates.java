package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat_ws;
import static org.apache.spark.sql.functions.expr;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.posexplode;
import static org.apache.spark.sql.functions.substring;
import static org.apache.spark.sql.functions.udf;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Near-duplicate removal with MinHash and LSH banding, written here because Spark ML is not
 * published for Spark 4.2.
 *
 * <ol>
 *   <li>Shingles: the distinct token n-grams of an example (64-bit hashes, {@link TokenHashing}); a
 *       sequence shorter than n is one shingle. For the character tokenizer tokens are characters,
 *       so these are character n-grams; for a subword tokenizer they are token n-grams.
 *   <li>Signature: {@code numHashes} MinHash values, {@code min over shingles s of (a_i * s + b_i)
 *       mod 2^64}, {@code a_i} odd, constants fixed (reproducible across runs and machines).
 *   <li>Banding: the signature is cut into {@code bands} bands of {@code r = numHashes / bands}
 *       values; each band hashes to a bucket key. Rows sharing a bucket in any band are candidate
 *       pairs. A pair with Jaccard J is a candidate with probability {@code 1 - (1 - J^r)^b}.
 *   <li>Verification: the exact Jaccard similarity of each candidate pair's shingle sets
 *       (recomputed from the two token sequences); a pair at or above the threshold is a
 *       near-duplicate.
 *   <li>Survivor: every row that has a verified near-duplicate with a smaller key ({@code
 *       record_id}, then chunk index, then content hash) is dropped. This is deterministic and
 *       never drops the smallest row of a group; in a chain A~B~C where A and C are not similar, C
 *       is still dropped because of B.
 * </ol>
 *
 * <p>Cost is linear in the number of rows: one shuffle on the bucket keys (no cross join). Within a
 * bucket all pairs are formed, except that in a bucket larger than {@code maxBucketSize} each row
 * is paired only with the first {@code maxBucketSize} rows (by key), which bounds the pairs at
 * {@code rows * bands * maxBucketSize}.
 */
public final class NearDuplicates {
  public static final String KEY = "_nd_key";
  public static final String BANDS = "_nd_bands";

  /**
   * @param ngram shingle length in tokens
   * @param numHashes MinHash signature length
   * @param bands LSH bands; must divide numHashes
   * @param threshold Jaccard similarity at or above which a pair is a near-duplicate, in (0, 1]
   * @param maxBucketSize rows of one bucket paired with every other row of it
   */
  public record Params(int ngram, int numHashes, int bands, double threshold, int maxBucketSize)
      implements java.io.Serializable {
    public Params {
      if (ngram < 1 || numHashes < 1 || bands < 1 || numHashes % bands != 0) {
        throw new IllegalArgumentException(
            "near-duplicates: need ngram >= 1, numHashes >= 1, bands >= 1 dividing numHashes; got"
                + " ngram="
                + ngram
                + " numHashes="
                + numHashes
                + " bands="
                + bands);
      }
      if (!(threshold > 0 && threshold <= 1)) {
        throw new IllegalArgumentException(
            "near-duplicate threshold must be in (0, 1], got " + threshold);
      }
      if (maxBucketSize < 2) {
        throw new IllegalArgumentException("maxBucketSize must be >= 2, got " + maxBucketSize);
      }
    }

    /**
     * 5-token shingles, 48 hashes in 12 bands of 4: a pair at J = 0.8 is a candidate with p = 0.998
     * (as with the former 120 hashes in 20 bands of 6), at J = 0.5 with p = 0.54, at J = 0.3 with p
     * = 0.093. Every candidate is verified with exact Jaccard, so the extra candidates below the
     * threshold cost driver time, never precision (issue 14: 2.5x fewer hash functions).
     */
    public static Params withThreshold(double threshold) {
      return new Params(5, 48, 12, threshold, 100);
    }

    public int rowsPerBand() {
      return numHashes / bands;
    }

    /** Probability that a pair with Jaccard {@code j} becomes a candidate. */
    public double candidateProbability(double j) {
      return 1 - Math.pow(1 - Math.pow(j, rowsPerBand()), bands);
    }
  }

  private NearDuplicates() {}

  // ---- plain Java, unit-tested ----

  /** Hash functions precomputed once per JVM; a longer signature computes its own. */
  private static final int CACHED_HASHES = 1024;

  private static final long[][] FAMILY = family(CACHED_HASHES);

  /**
   * {@code {multipliers, offsets}} of {@code numHashes} functions {@code h_i(s) = a_i * s + b_i
   * (mod 2^64)}, {@code a_i} odd (so each h_i is a bijection of the 64-bit values), from a fixed
   * seed: reproducible across runs and machines.
   */
  private static long[][] family(int numHashes) {
    SplittableRandom r = new SplittableRandom(0x5EEDL);
    long[] a = new long[numHashes];
    long[] b = new long[numHashes];
    for (int i = 0; i < numHashes; i++) {
      a[i] = r.nextLong() | 1L;
      b[i] = r.nextLong();
    }
    return new long[][] {a, b};
  }

  /**
   * MinHash signature of a shingle set: {@code sig_i = min over shingles s of (a_i * s + b_i)}
   * (signed 64-bit order), all {@code Long.MAX_VALUE} for an empty set.
   *
   * <p>One multiply-add per (shingle, function) instead of a full 64-bit mixer (issue 14: the mixer
   * with per-call seeds was 27% of the curation's CPU samples, JFR). Multiply-add alone is only a
   * weak family on structured keys; here the keys are already {@link TokenHashing#fmix64} outputs
   * (uniform 64-bit shingle hashes), and the order that decides the minimum is set by the high
   * bits, which depend on every bit of {@code s}. The approximation is measured, not assumed: the
   * agreement rate still estimates Jaccard (unit test) and the planted near-duplicates are found
   * with the same precision and recall as exact Jaccard (benchmark {@code quality}).
   */
  public static long[] signature(long[] shingles, int numHashes) {
    long[][] f = numHashes <= CACHED_HASHES ? FAMILY : family(numHashes);
    long[] a = f[0];
    long[] b = f[1];
    long[] sig = new long[numHashes];
    java.util.Arrays.fill(sig, Long.MAX_VALUE);
    for (long s : shingles) {
      for (int i = 0; i < numHashes; i++) {
        sig[i] = Math.min(sig[i], a[i] * s + b[i]);
      }
    }
    return sig;
  }

  /**
   * {@link #bandKeys(long[], Params)} of the shingle set of {@code tokens}, from the n-gram hashes
   * in sequence order with repeats: a MinHash value is a minimum over the shingles, which neither
   * the order nor a repeat changes, so the keys are the same and the sort and dedupe of the set are
   * skipped (issue 14: the sort was about a quarter of the feature pass's MinHash time).
   */
  public static long[] bandKeysOfTokens(int[] tokens, Params p) {
    return bandKeys(TokenHashing.ngramHashesInOrder(tokens, p.ngram(), true), p);
  }

  /**
   * One bucket key per band (the band index is mixed in); empty for an empty shingle set. {@code
   * shingles} may hold repeats and be in any order (the signature is a minimum over them).
   */
  public static long[] bandKeys(long[] shingles, Params p) {
    if (shingles.length == 0) {
      return new long[0];
    }
    long[] sig = signature(shingles, p.numHashes());
    int r = p.rowsPerBand();
    long[] keys = new long[p.bands()];
    for (int b = 0; b < p.bands(); b++) {
      long h = TokenHashing.fmix64(b + 1L);
      for (int j = 0; j < r; j++) {
        h = TokenHashing.fmix64(h * 31 + sig[b * r + j]);
      }
      keys[b] = h;
    }
    return keys;
  }

  /** Exact Jaccard similarity of two sorted distinct arrays; 0 when both are empty. */
  public static double jaccard(long[] a, long[] b) {
    int i = 0;
    int j = 0;
    int inter = 0;
    while (i < a.length && j < b.length) {
      if (a[i] == b[j]) {
        inter++;
        i++;
        j++;
      } else if (a[i] < b[j]) {
        i++;
      } else {
        j++;
      }
    }
    int union = a.length + b.length - inter;
    return union == 0 ? 0.0 : (double) inter / union;
  }

  // ---- Spark ----

  /** Adds {@value #KEY}: record id, chunk index and a content-hash prefix; unique after dedupe. */
  public static Dataset<Row> withKey(Dataset<Row> rows) {
    return rows.withColumn(
        KEY,
        concat_ws(
            "\u0001",
            col(RawColumns.RECORD_ID),
            expr("lpad(cast(" + RawColumns.CHUNK_INDEX + " as string), 6, '0')"),
            substring(
                expr("sha2(array_join(transform(tokens, t -> cast(t as string)), ','), 256)"),
                1,
                16)));
  }

  /** Band keys straight from the tokens: shingles, MinHash and banding in one Java call. */
  private static UserDefinedFunction bandsUdf(Params p) {
    return udf(
        (UDF1<Object, long[]>) t -> bandKeysOfTokens(TokenHashing.tokens(t), p),
        DataTypes.createArrayType(DataTypes.LongType, false));
  }

  /** The shingle set (sorted distinct n-gram hashes) of a token sequence. */
  public static long[] shingles(int[] tokens, Params p) {
    return TokenHashing.ngramHashes(tokens, p.ngram(), true);
  }

  /** Exact Jaccard of the shingle sets of two token sequences. */
  public static double tokenJaccard(int[] a, int[] b, Params p) {
    return jaccard(shingles(a, p), shingles(b, p));
  }

  private static UserDefinedFunction jaccardUdf(Params p) {
    return udf(
        (UDF2<Object, Object, Double>)
            (a, b) -> tokenJaccard(TokenHashing.tokens(a), TokenHashing.tokens(b), p),
        DataTypes.DoubleType);
  }

  /**
   * {@value #KEY}, {@code tokens} and {@value #BANDS} of rows that carry {@value #KEY}: one Java
   * call per row computes the shingles, the signature and the band keys; the shingle sets are not
   * kept (verification recomputes them from the tokens of the few candidate pairs).
   */
  public static Dataset<Row> signatures(Dataset<Row> keyed, Params p) {
    return keyed.select(
        col(KEY), col(RawColumns.TOKENS), bandsUdf(p).apply(col(RawColumns.TOKENS)).as(BANDS));
  }

  static final StructType PAIR =
      new StructType().add("a", DataTypes.StringType).add("b", DataTypes.StringType);

  /**
   * Candidate pairs {@code (a, b)}, {@code a < b}, sharing at least one bucket; distinct. One
   * shuffle on the band keys (band, bucket), then a local sort and one scan over each bucket's
   * rows: no per-bucket list aggregation (Spark's object aggregation falls back to a slow
   * sort-based path once a task holds more than 128 buckets, which every real input does).
   */
  public static Dataset<Row> candidatePairs(Dataset<Row> signatures, Params p) {
    return bucketPairs(signatures, p).distinct();
  }

  /**
   * {@link #candidatePairs} before {@code distinct}: a pair sharing buckets in several bands comes
   * once per band. One shuffle (on the band keys).
   */
  public static Dataset<Row> bucketPairs(Dataset<Row> signatures, Params p) {
    int cap = p.maxBucketSize();
    return signatures
        .select(col(KEY), posexplode(col(BANDS)).as(new String[] {"band", "bucket"}))
        .repartition(col("band"), col("bucket"))
        // The bucket first: a 64-bit hash (the band index mixed in), so the sort's 8-byte prefix
        // orders almost every pair of rows without the full comparator; the band first (20
        // values) left most comparisons to the interpreted comparator (issue 14: 11% of the
        // curation's CPU samples, JFR). Rows of one (band, bucket) stay consecutive either way.
        .sortWithinPartitions(col("bucket"), col("band"), col(KEY))
        .mapPartitions(
            (MapPartitionsFunction<Row, Row>) it -> bucketPairs(it, cap), Encoders.row(PAIR));
  }

  /**
   * The keys that {@link #dropKeyed} drops from {@code rows} (with {@value #KEY}, {@code tokens}
   * and {@value #BANDS}), in at most three Spark jobs: the shuffle on the band keys and the
   * collection of the candidate pairs (two), then, when there is a candidate, one pass that
   * collects the tokens of the rows in a candidate pair; their exact Jaccard is computed here, on
   * the driver (each row's shingle set once). The driver holds the candidate pairs and the tokens
   * of the rows in them: a few percent of the rows on deduplicated data.
   */
  public static java.util.SortedSet<String> droppedKeys(Dataset<Row> rows, Params p) {
    java.util.Set<List<String>> pairs = new java.util.LinkedHashSet<>();
    java.util.Set<String> involved = new java.util.HashSet<>();
    for (Row r : bucketPairs(rows.select(col(KEY), col(BANDS)), p).collectAsList()) {
      pairs.add(List.of(r.getString(0), r.getString(1)));
      involved.add(r.getString(0));
      involved.add(r.getString(1));
    }
    java.util.SortedSet<String> dropped = new java.util.TreeSet<>();
    if (pairs.isEmpty()) {
      return dropped;
    }
    org.apache.spark.broadcast.Broadcast<java.util.Set<String>> keys =
        org.apache.spark.api.java.JavaSparkContext.fromSparkContext(
                rows.sparkSession().sparkContext())
            .broadcast(involved);
    UserDefinedFunction isInvolved =
        udf((UDF1<String, Boolean>) k -> keys.value().contains(k), DataTypes.BooleanType);
    java.util.Map<String, long[]> shingles = new java.util.HashMap<>();
    for (Row r :
        rows.where(isInvolved.apply(col(KEY)))
            .select(col(KEY), col(RawColumns.TOKENS))
            .collectAsList()) {
      shingles.put(r.getString(0), shingles(TokenHashing.tokens(r.get(1)), p));
    }
    keys.destroy();
    for (List<String> pair : pairs) {
      if (jaccard(shingles.get(pair.get(0)), shingles.get(pair.get(1))) >= p.threshold()) {
        dropped.add(pair.get(1));
      }
    }
    return dropped;
  }

  /**
   * Pairs of rows sorted by (band, bucket, key): within a bucket, each row with each earlier row
   * (only the first {@code cap} of them in a bucket larger than {@code cap}).
   */
  static Iterator<Row> bucketPairs(Iterator<Row> sorted, int cap) {
    List<Row> out = new ArrayList<>();
    List<String> members = new ArrayList<>();
    int band = -1;
    long bucket = 0;
    while (sorted.hasNext()) {
      Row r = sorted.next();
      String key = r.getString(0);
      int b = r.getInt(1);
      long k = r.getLong(2);
      if (b != band || k != bucket || members.isEmpty()) {
        members.clear();
        band = b;
        bucket = k;
      }
      for (int i = 0; i < Math.min(members.size(), cap); i++) {
        if (!members.get(i).equals(key)) {
          out.add(RowFactory.create(members.get(i), key));
        }
      }
      if (members.size() < cap) {
        members.add(key);
      }
    }
    return out.iterator();
  }

  /**
   * Verified near-duplicate pairs: {@code a} (kept side), {@code b} (dropped), {@code jaccard}
   * (exact on the shingle sets), with {@code jaccard >= threshold}.
   */
  public static Dataset<Row> verifiedPairs(Dataset<Row> signatures, Params p) {
    Dataset<Row> sa = signatures.select(col(KEY).as("a"), col(RawColumns.TOKENS).as("ta"));
    Dataset<Row> sb = signatures.select(col(KEY).as("b"), col(RawColumns.TOKENS).as("tb"));
    // The candidate pairs are few: the joins broadcast them (adaptive execution), the rows do not
    // move.
    return candidatePairs(signatures, p)
        .join(sa, "a")
        .join(sb, "b")
        .select(col("a"), col("b"), jaccardUdf(p).apply(col("ta"), col("tb")).as("jaccard"))
        .where(col("jaccard").geq(lit(p.threshold())));
  }

  /** Rows (with {@value #KEY}) minus the near-duplicates; drops {@value #KEY}. */
  public static Dataset<Row> dropKeyed(Dataset<Row> keyed, Dataset<Row> signatures, Params p) {
    Dataset<Row> dropped = verifiedPairs(signatures, p).select(col("b").as(KEY)).distinct();
    return keyed.join(dropped, KEY, "left_anti").drop(KEY);
  }

  /** The whole transform: rows in, rows without near-duplicates out (same columns). */
  public static Dataset<Row> dropNearDuplicates(Dataset<Row> rows, Params p) {
    Dataset<Row> keyed = withKey(rows);
    return dropKeyed(keyed, signatures(keyed, p), p);
  }
}
