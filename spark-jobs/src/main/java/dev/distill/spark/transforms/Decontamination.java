package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.udf;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;

/**
 * Decontamination: drops training examples that share any token n-gram with an evaluation set.
 * N-grams are compared by 64-bit hash ({@link TokenHashing}; a false match has probability about
 * 2^-64 per pair of n-grams). Sequences shorter than n have no n-grams: they never match.
 *
 * <p>Linear: the evaluation set's distinct n-gram hashes are collected once ({@link #ngramSet}) and
 * broadcast; each training row is then checked by binary search ({@link #sharesNgram}), never a
 * cross join and no shuffle.
 */
public final class Decontamination {
  public static final String NGRAM = "ngram";
  public static final int DEFAULT_NGRAM = 13;

  /**
   * @param ngram n-gram length in tokens
   * @param evalPath Parquet folder with a {@code tokens array<int>} column (raw or curated layout),
   *     or null
   * @param againstVal use the curated val split itself as the evaluation set
   */
  public record Params(int ngram, String evalPath, boolean againstVal)
      implements java.io.Serializable {
    public Params {
      if (ngram < 1) {
        throw new IllegalArgumentException("decontamination n-gram must be >= 1, got " + ngram);
      }
      if ((evalPath == null || evalPath.isBlank()) == !againstVal) {
        throw new IllegalArgumentException(
            "decontamination needs exactly one evaluation set: a Parquet path or the val split");
      }
    }
  }

  private Decontamination() {}

  /**
   * The distinct n-gram hashes of the {@code tokens} column of {@code eval}, sorted, on the driver:
   * one Spark job (each task sends its own sorted distinct hashes as one binary row, 8 bytes a
   * hash; the driver merges them). 8 bytes per distinct eval n-gram is what the driver holds (e.g.
   * 20,000 eval examples of 128 tokens: about 19 MB at most).
   */
  public static long[] ngramSet(Dataset<Row> eval, int n) {
    List<byte[]> blocks =
        eval.select(col(RawColumns.TOKENS))
            .mapPartitions(
                (MapPartitionsFunction<Row, byte[]>)
                    it -> {
                      long[] all = new long[1024];
                      int size = 0;
                      while (it.hasNext()) {
                        Row r = it.next();
                        if (r.isNullAt(0)) {
                          continue;
                        }
                        long[] h =
                            TokenHashing.ngramHashes(TokenHashing.tokens(r.get(0)), n, false);
                        if (size + h.length > all.length) {
                          all = Arrays.copyOf(all, Math.max(2 * all.length, size + h.length));
                        }
                        System.arraycopy(h, 0, all, size, h.length);
                        size += h.length;
                      }
                      long[] distinct = sortedDistinct(all, size);
                      ByteBuffer b = ByteBuffer.allocate(8 * distinct.length);
                      b.asLongBuffer().put(distinct);
                      return List.of(b.array()).iterator();
                    },
                Encoders.BINARY())
            .collectAsList();
    int total = 0;
    for (byte[] b : blocks) {
      total += b.length / 8;
    }
    long[] all = new long[total];
    int at = 0;
    for (byte[] b : blocks) {
      ByteBuffer.wrap(b).asLongBuffer().get(all, at, b.length / 8);
      at += b.length / 8;
    }
    return sortedDistinct(all, total);
  }

  private static long[] sortedDistinct(long[] values, int size) {
    long[] out = Arrays.copyOf(values, size);
    Arrays.sort(out);
    int w = 0;
    for (int i = 0; i < out.length; i++) {
      if (i == 0 || out[i] != out[i - 1]) {
        out[w++] = out[i];
      }
    }
    return Arrays.copyOf(out, w);
  }

  /**
   * Whether a {@code tokens} value shares an n-gram with {@code evalNgrams} (sorted, as {@link
   * #ngramSet}); broadcast once, a binary search per n-gram of the row. A column, so the decision
   * rides on a pass that runs anyway (issue 14: the join of exploded n-grams took Spark jobs of its
   * own).
   */
  public static UserDefinedFunction sharesNgram(SparkSession spark, long[] evalNgrams, int n) {
    Broadcast<long[]> set =
        JavaSparkContext.fromSparkContext(spark.sparkContext()).broadcast(evalNgrams);
    return udf(
        (UDF1<Object, Boolean>)
            t -> {
              if (t == null) {
                return false;
              }
              long[] eval = set.value();
              for (long h : TokenHashing.ngramHashes(TokenHashing.tokens(t), n, false)) {
                if (Arrays.binarySearch(eval, h) >= 0) {
                  return true;
                }
              }
              return false;
            },
        DataTypes.BooleanType);
  }

  /** {@code train} without the examples that share an n-gram with {@code eval}. */
  public static Dataset<Row> dropContaminated(Dataset<Row> train, Dataset<Row> eval, int n) {
    return train.where(
        functions.not(
            sharesNgram(train.sparkSession(), ngramSet(eval, n), n).apply(col(RawColumns.TOKENS))));
  }
}
