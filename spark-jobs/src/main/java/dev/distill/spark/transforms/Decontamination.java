package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.explode;
import static org.apache.spark.sql.functions.udf;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.types.DataTypes;

/**
 * Decontamination: drops training examples that share any token n-gram with an evaluation set.
 * N-grams are compared by 64-bit hash ({@link TokenHashing}; a false match has probability about
 * 2^-64 per pair of n-grams). Sequences shorter than n have no n-grams: they never match.
 *
 * <p>Linear: the n-grams of both sides are exploded and joined on the hash (an equi-join), never a
 * cross join.
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

  private static UserDefinedFunction ngramsUdf(int n) {
    return udf(
        (UDF1<Object, long[]>) t -> TokenHashing.ngramHashes(TokenHashing.tokens(t), n, false),
        DataTypes.createArrayType(DataTypes.LongType, false));
  }

  /** The distinct n-gram hashes ({@value #NGRAM}) of the {@code tokens} column of {@code eval}. */
  public static Dataset<Row> ngrams(Dataset<Row> eval, int n) {
    return eval.select(explode(ngramsUdf(n).apply(col(RawColumns.TOKENS))).as(NGRAM)).distinct();
  }

  /**
   * The rows of {@code train} that share an n-gram with {@code evalNgrams} ({@link #ngrams}), or
   * the others when {@code contaminated} is false; same columns as {@code train}.
   */
  public static Dataset<Row> split(
      Dataset<Row> train, Dataset<Row> evalNgrams, int n, boolean contaminated) {
    Dataset<Row> keyed = NearDuplicates.withKey(train);
    Dataset<Row> hits = hits(keyed, evalNgrams, n);
    return keyed
        .join(hits, NearDuplicates.KEY, contaminated ? "left_semi" : "left_anti")
        .drop(NearDuplicates.KEY);
  }

  /**
   * The distinct {@value NearDuplicates#KEY} values of the rows of {@code keyed} (which carry that
   * key) that share an n-gram with {@code evalNgrams}.
   */
  public static Dataset<Row> hits(Dataset<Row> keyed, Dataset<Row> evalNgrams, int n) {
    return keyed
        .select(
            col(NearDuplicates.KEY), explode(ngramsUdf(n).apply(col(RawColumns.TOKENS))).as(NGRAM))
        .join(evalNgrams, NGRAM, "left_semi")
        .select(col(NearDuplicates.KEY))
        .distinct();
  }

  /** {@code train} without the examples that share an n-gram with {@code eval}. */
  public static Dataset<Row> dropContaminated(Dataset<Row> train, Dataset<Row> eval, int n) {
    return split(train, ngrams(eval, n), n, false);
  }
}
