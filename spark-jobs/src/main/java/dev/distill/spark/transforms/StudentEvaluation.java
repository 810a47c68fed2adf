package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.avg;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.schemas.evaluation.LengthBuckets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Student-vs-teacher metrics per position, joined at scale (an equi-join on {@code (record_id,
 * position)}, never a collect), and aggregated per slice.
 *
 * <h2>Student predictions (the input contract)</h2>
 *
 * Parquet, one row per (example, position):
 *
 * <ul>
 *   <li>{@code record_id string}: the curated {@code exampleId};
 *   <li>{@code position int}: 0-based; position p predicts token p + 1 (as the soft labels);
 *   <li>{@code top1 int}: the student's most probable id;
 *   <li>{@code ids array<int>}, {@code logprobs array<float>}: natural-log probabilities of the
 *       student at the teacher's temperature T (logits divided by T, docs/architecture.md),
 *       aligned; {@code ids} must contain every id of the teacher's top-k at that position (any
 *       order; other ids are ignored).
 * </ul>
 *
 * <h2>Metrics (docs/architecture.md conventions)</h2>
 *
 * <ul>
 *   <li>top-1 agreement: {@code top1 == argmax} of the teacher's top-k;
 *   <li>forward KL, {@code KL(teacher || student)}, on the teacher's k + 1 buckets: {@code sum_j
 *       p_j ln(p_j / q_j) + p_tail ln(p_tail / q_tail)}, with {@code q_tail = 1 - sum_j q_j} (the
 *       student's mass outside the teacher's top-k), each q floored at {@value #FLOOR}.
 * </ul>
 *
 * <h2>Decisions ({@value #STATUS}, counted, never silently dropped)</h2>
 *
 * {@value #MISSING_PREDICTION}: a teacher position with no student row; {@value
 * #MISSING_TEACHER_ID}: the student row lacks one of the teacher's ids; {@value #BAD_LOGPROBS}:
 * arrays of different lengths, a log-prob that is NaN or positive, or student mass over the
 * teacher's ids above 1 + 1e-3. Student rows with no teacher position are counted by {@link
 * #orphans}.
 */
public final class StudentEvaluation {
  static final String RECORD_ID = "record_id";
  static final String POSITION = "position";
  static final String TOP1 = "top1";
  static final String IDS = "ids";
  static final String LOGPROBS = "logprobs";

  static final String STATUS = "status";
  static final String AGREE = "agree";
  static final String KL = "forward_kl";
  public static final String LENGTH_BUCKET = "length_bucket";
  public static final String SOURCE = "source";

  public static final String MISSING_PREDICTION = "MISSING_PREDICTION";
  public static final String MISSING_TEACHER_ID = "MISSING_TEACHER_ID";
  public static final String BAD_LOGPROBS = "BAD_LOGPROBS";

  static final double FLOOR = 1e-12;

  /** The student predictions schema. */
  public static final StructType PREDICTIONS =
      new StructType()
          .add(RECORD_ID, DataTypes.StringType, false)
          .add(POSITION, DataTypes.IntegerType, false)
          .add(TOP1, DataTypes.IntegerType, false)
          .add(IDS, DataTypes.createArrayType(DataTypes.IntegerType, false), false)
          .add(LOGPROBS, DataTypes.createArrayType(DataTypes.FloatType, false), false);

  static final StructType TEACHER_POSITIONS =
      new StructType()
          .add("t_record_id", DataTypes.StringType, false)
          .add("t_position", DataTypes.IntegerType, false)
          .add(SOURCE, DataTypes.StringType, true)
          .add(LENGTH_BUCKET, DataTypes.StringType, false)
          .add("t_ids", DataTypes.createArrayType(DataTypes.IntegerType, false), false)
          .add("t_probs", DataTypes.createArrayType(DataTypes.FloatType, false), false)
          .add("t_tail", DataTypes.FloatType, false);

  static final StructType SCORED =
      new StructType()
          .add(RECORD_ID, DataTypes.StringType, false)
          .add(POSITION, DataTypes.IntegerType, false)
          .add(SOURCE, DataTypes.StringType, true)
          .add(LENGTH_BUCKET, DataTypes.StringType, false)
          .add(STATUS, DataTypes.StringType, true)
          .add(AGREE, DataTypes.DoubleType, true)
          .add(KL, DataTypes.DoubleType, true);

  private StudentEvaluation() {}

  /** Forward KL on the teacher's k + 1 buckets, as documented on the class. */
  public static double forwardKl(float[] teacherProbs, float teacherTail, double[] studentProbs) {
    double kl = 0;
    double studentMass = 0;
    for (int j = 0; j < teacherProbs.length; j++) {
      double q = studentProbs[j];
      studentMass += q;
      double p = teacherProbs[j];
      if (p > 0) {
        kl += p * Math.log(p / Math.max(q, FLOOR));
      }
    }
    if (teacherTail > 0) {
      kl += teacherTail * Math.log(teacherTail / Math.max(1 - studentMass, FLOOR));
    }
    return kl;
  }

  /** Curated rows ({@code exampleId, source, softLabels}) to one row per teacher position. */
  public static Dataset<Row> teacherPositions(Dataset<Row> curated, int[] edges) {
    int[] e = edges.clone();
    return curated
        .select(col("exampleId"), col("source"), col("softLabels"))
        .flatMap(
            (FlatMapFunction<Row, Row>)
                r -> {
                  String id = r.getString(0);
                  SoftLabels s = SoftLabelCodec.decode((byte[]) r.get(2));
                  String bucket = LengthBuckets.of(s.positions(), e);
                  List<Row> out = new ArrayList<>(s.positions());
                  for (int p = 0; p < s.positions(); p++) {
                    Integer[] ids = new Integer[s.k()];
                    Float[] probs = new Float[s.k()];
                    for (int j = 0; j < s.k(); j++) {
                      ids[j] = s.id(p, j);
                      probs[j] = s.prob(p, j);
                    }
                    out.add(
                        RowFactory.create(
                            id,
                            p,
                            r.isNullAt(1) ? null : r.getString(1),
                            bucket,
                            // Row encoders want Scala Seqs for arrays.
                            CollectionConverters.asScala(Arrays.asList(ids)).toSeq(),
                            CollectionConverters.asScala(Arrays.asList(probs)).toSeq(),
                            s.tail(p)));
                  }
                  return out.iterator();
                },
            Encoders.row(TEACHER_POSITIONS));
  }

  /** Every teacher position with its status, agreement and forward KL (null unless scored). */
  public static Dataset<Row> score(Dataset<Row> teacherPositions, Dataset<Row> predictions) {
    Dataset<Row> s =
        predictions.select(
            col(RECORD_ID).as("s_record_id"),
            col(POSITION).as("s_position"),
            col(TOP1),
            col(IDS),
            col(LOGPROBS));
    Dataset<Row> joined =
        teacherPositions.join(
            s,
            col("t_record_id")
                .equalTo(col("s_record_id"))
                .and(col("t_position").equalTo(col("s_position"))),
            "left_outer");
    return joined.map((MapFunction<Row, Row>) StudentEvaluation::scoreRow, Encoders.row(SCORED));
  }

  private static Row scoreRow(Row r) {
    String id = r.getAs("t_record_id");
    int position = r.<Integer>getAs("t_position");
    String source = r.getAs(SOURCE);
    String bucket = r.getAs(LENGTH_BUCKET);
    if (r.isNullAt(r.fieldIndex("s_record_id"))) {
      return RowFactory.create(id, position, source, bucket, MISSING_PREDICTION, null, null);
    }
    List<Integer> tIds = r.getList(r.fieldIndex("t_ids"));
    List<Float> tProbs = r.getList(r.fieldIndex("t_probs"));
    float tTail = r.<Float>getAs("t_tail");
    List<Integer> sIds = r.getList(r.fieldIndex(IDS));
    List<Float> sLog = r.getList(r.fieldIndex(LOGPROBS));
    if (sIds.size() != sLog.size()) {
      return RowFactory.create(id, position, source, bucket, BAD_LOGPROBS, null, null);
    }
    java.util.Map<Integer, Float> byId = new java.util.HashMap<>();
    for (int i = 0; i < sIds.size(); i++) {
      Float lp = sLog.get(i);
      if (sIds.get(i) == null || lp == null || lp.isNaN() || lp > 0) {
        return RowFactory.create(id, position, source, bucket, BAD_LOGPROBS, null, null);
      }
      byId.put(sIds.get(i), lp);
    }
    float[] p = new float[tIds.size()];
    double[] q = new double[tIds.size()];
    double mass = 0;
    int teacherTop = 0;
    for (int j = 0; j < p.length; j++) {
      Float lp = byId.get(tIds.get(j));
      if (lp == null) {
        return RowFactory.create(id, position, source, bucket, MISSING_TEACHER_ID, null, null);
      }
      p[j] = tProbs.get(j);
      q[j] = Math.exp(lp);
      mass += q[j];
      if (p[j] > p[teacherTop]) {
        teacherTop = j;
      }
    }
    if (mass > 1 + 1e-3) {
      return RowFactory.create(id, position, source, bucket, BAD_LOGPROBS, null, null);
    }
    int studentTop = r.<Integer>getAs(TOP1);
    double agree = studentTop == tIds.get(teacherTop) ? 1.0 : 0.0;
    return RowFactory.create(id, position, source, bucket, null, agree, forwardKl(p, tTail, q));
  }

  /** Student rows with no teacher position (wrong record id or a position past the end). */
  public static Dataset<Row> orphans(Dataset<Row> teacherPositions, Dataset<Row> predictions) {
    return predictions.join(
        teacherPositions,
        col(RECORD_ID).equalTo(col("t_record_id")).and(col(POSITION).equalTo(col("t_position"))),
        "left_anti");
  }

  /**
   * Metrics of one slice dimension ({@code slice} = a column of {@link #score}'s output, or null
   * for all rows together): {@code slice, value, positions, scored, top1_agreement,
   * forward_kl_mean} plus one count column per decision.
   */
  public static Dataset<Row> metrics(Dataset<Row> scored, String slice) {
    Column value = slice == null ? lit("all") : col(slice).cast("string");
    Column ok = col(STATUS).isNull();
    return scored
        .groupBy(value.as("value"))
        .agg(
            count(lit(1)).as("positions"),
            sum(when(ok, 1).otherwise(0)).cast("long").as("scored"),
            avg(col(AGREE)).as("top1_agreement"),
            avg(col(KL)).as("forward_kl_mean"),
            sum(when(col(STATUS).equalTo(MISSING_PREDICTION), 1).otherwise(0))
                .cast("long")
                .as(MISSING_PREDICTION),
            sum(when(col(STATUS).equalTo(MISSING_TEACHER_ID), 1).otherwise(0))
                .cast("long")
                .as(MISSING_TEACHER_ID),
            sum(when(col(STATUS).equalTo(BAD_LOGPROBS), 1).otherwise(0))
                .cast("long")
                .as(BAD_LOGPROBS))
        .select(
            lit(slice == null ? "all" : slice).as("slice"),
            col("value"),
            col("positions"),
            col("scored"),
            col("top1_agreement"),
            col("forward_kl_mean"),
            col(MISSING_PREDICTION),
            col(MISSING_TEACHER_ID),
            col(BAD_LOGPROBS));
  }
}
