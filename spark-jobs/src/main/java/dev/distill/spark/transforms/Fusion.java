package dev.distill.spark.transforms;

import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.commons.codec.digest.DigestUtils;
import org.apache.spark.api.java.function.FlatMapGroupsFunction;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Multi-teacher fusion (issue 15, ask 3): the soft labels of several teachers that share one
 * tokenizer become one teacher's, per prompt id, chunk and position.
 *
 * <h2>The mixture</h2>
 *
 * Teacher t (weight {@code w_t}, weights normalised to sum 1) stores at a position its top-{@code
 * k_t} ids {@code S_t} with probabilities {@code p_t(i)} and a tail mass {@code tau_t}. As in
 * {@link Relabeling}, the tail is read as spread <em>uniformly</em> over the {@code V - k_t} ids
 * outside {@code S_t}, so every id has a probability under every teacher: {@code p_t(i)} inside
 * {@code S_t}, {@code tau_t / (V - k_t)} outside. The fused distribution is the mixture {@code q(i)
 * = sum_t w_t p_t(i)}, evaluated exactly on the union {@code U} of the teachers' top-k ids.
 *
 * <h2>Output k and the merged tail</h2>
 *
 * The output has one k for every position: {@code k_out} (default the largest input k; at most the
 * sum of the input k's). The {@code k_out} ids of {@code U} with the largest {@code q} are kept
 * (ties: lower id). The fused tail is {@code 1 - sum of the kept q}, which is the tails merged as
 * {@code sum_t w_t (tau_t - tau_t |U_kept \ S_t| / (V - k_t))} (each teacher's tail, less the share
 * its uniform tail gave to kept ids outside its own top-k) plus the mass of the union ids that did
 * not fit in {@code k_out}. Since {@code |U| >= max k_t}, the default never needs padding; when
 * {@code k_out > |U|} (teachers agree on their ids), the lowest ids outside {@code U} are added
 * with their mixture probability {@code sum_t w_t tau_t / (V - k_t)}, exact under the same reading.
 *
 * <h2>KL(fused || source)</h2>
 *
 * Per position, on the partition of the vocabulary into the fused set's kept ids (one bucket each)
 * and one bucket "every other id": {@code sum_{i kept} q(i) ln(q(i) / p_t(i)) + q_tail ln(q_tail /
 * r_t)} with {@code r_t = 1 - sum_{i kept} p_t(i)} (source probabilities read as above). This is
 * the KL of the two distributions coarsened to that partition, so it never exceeds the KL of the
 * full distributions (data-processing inequality) and is 0 when fused and source agree on every
 * kept id.
 */
public final class Fusion {
  /** Status column of the transform's output: null for a fused row, else the rejection reason. */
  public static final String STATUS = "_fuse_status";

  /** Per-teacher KL(fused || teacher) summed over the row's positions, in teacher order. */
  public static final String KL = "_fuse_kl";

  /** Rejection reasons, counted in the job's report. */
  public static final String MISSING_TEACHER = "MISSING_TEACHER";

  static final String TOKENS_DIFFER = "TOKENS_DIFFER";
  static final String DUPLICATE = "DUPLICATE";

  /**
   * One source teacher.
   *
   * @param id teacher id as stored ({@code teacher_id})
   * @param sha256 teacher sha256 as stored
   * @param weight mixture weight, > 0 (normalised over all teachers)
   */
  public record Teacher(String id, String sha256, double weight) implements Serializable {
    public Teacher {
      if (!(weight > 0 && Double.isFinite(weight))) {
        throw new IllegalArgumentException(
            "teacher " + id + ": weight must be a finite number > 0, got " + weight);
      }
    }

    /** {@code id@sha256}, as the provenance guard names teachers. */
    public String key() {
      return id + "@" + sha256;
    }
  }

  private Fusion() {}

  /**
   * The fused teacher's id: every teacher with its normalised weight, e.g. {@code
   * fuse[teacher-a@aa11*0.6,teacher-b@bb22*0.4]}. The trainer sees this one id and {@link
   * #fusedSha256}.
   */
  public static String fusedId(List<Teacher> teachers) {
    double[] w = normalised(teachers);
    List<String> parts = new ArrayList<>();
    for (int t = 0; t < teachers.size(); t++) {
      parts.add(teachers.get(t).key() + "*" + String.format(Locale.ROOT, "%.6g", w[t]));
    }
    return "fuse[" + String.join(",", parts) + "]";
  }

  /** sha256 (hex) of {@link #fusedId}: one stable identity for the fused teacher. */
  public static String fusedSha256(List<Teacher> teachers) {
    return DigestUtils.sha256Hex(fusedId(teachers)); // of its UTF-8 bytes
  }

  static double[] normalised(List<Teacher> teachers) {
    double sum = 0;
    for (Teacher t : teachers) {
      sum += t.weight();
    }
    double[] w = new double[teachers.size()];
    for (int t = 0; t < w.length; t++) {
      w[t] = teachers.get(t).weight() / sum;
    }
    return w;
  }

  /** Probability of {@code id} at {@code pos} with the tail uniform over the ids outside top-k. */
  static double probOf(SoftLabels s, int pos, int id, int vocab) {
    for (int j = 0; j < s.k(); j++) {
      if (s.id(pos, j) == id) {
        return s.prob(pos, j);
      }
    }
    return s.tail(pos) / Math.max(1, vocab - s.k());
  }

  /**
   * Fuses the labels of one sequence from several teachers (same positions), as documented on the
   * class.
   *
   * @param weights normalised mixture weights, one per source
   * @param kOut ids per position in the output
   */
  public static SoftLabels fuse(List<SoftLabels> sources, double[] weights, int vocab, int kOut) {
    int positions = sources.get(0).positions();
    for (SoftLabels s : sources) {
      if (s.positions() != positions) {
        throw new IllegalArgumentException(
            "sources differ in positions: " + s.positions() + " vs " + positions);
      }
    }
    if (kOut < 1 || kOut > vocab) {
      throw new IllegalArgumentException("k_out must be in 1.." + vocab + ", got " + kOut);
    }
    int[] ids = new int[positions * kOut];
    float[] probs = new float[positions * kOut];
    float[] tail = new float[positions];
    for (int p = 0; p < positions; p++) {
      TreeSet<Integer> union = new TreeSet<>();
      for (SoftLabels s : sources) {
        for (int j = 0; j < s.k(); j++) {
          union.add(s.id(p, j));
        }
      }
      // Pad with the lowest ids outside the union when it is smaller than k_out.
      for (int id = 0; union.size() < kOut && id < vocab; id++) {
        union.add(id);
      }
      int n = union.size();
      int[] cand = new int[n];
      double[] q = new double[n];
      int c = 0;
      for (int id : union) {
        cand[c] = id;
        for (int t = 0; t < sources.size(); t++) {
          q[c] += weights[t] * probOf(sources.get(t), p, id, vocab);
        }
        c++;
      }
      Integer[] order = new Integer[n];
      for (int i = 0; i < n; i++) {
        order[i] = i;
      }
      final double[] qq = q;
      Arrays.sort(
          order,
          (a, b) -> {
            int cmp = Double.compare(qq[b], qq[a]);
            return cmp != 0 ? cmp : Integer.compare(cand[a], cand[b]);
          });
      double kept = 0;
      for (int j = 0; j < kOut; j++) {
        ids[p * kOut + j] = cand[order[j]];
        probs[p * kOut + j] = (float) q[order[j]];
        kept += q[order[j]];
      }
      tail[p] = (float) Math.max(0.0, 1.0 - kept);
    }
    return new SoftLabels(positions, kOut, ids, probs, tail);
  }

  /** KL(fused || source) at one position on the coarsened partition documented on the class. */
  public static double kl(SoftLabels fused, SoftLabels source, int pos, int vocab) {
    double kl = 0;
    double sourceKept = 0;
    for (int j = 0; j < fused.k(); j++) {
      double q = fused.prob(pos, j);
      double p = probOf(source, pos, fused.id(pos, j), vocab);
      sourceKept += p;
      if (q > 0) {
        kl += q * Math.log(q / Math.max(p, 1e-30));
      }
    }
    double qt = fused.tail(pos);
    if (qt > 0) {
      kl += qt * Math.log(qt / Math.max(1.0 - sourceKept, 1e-30));
    }
    return Math.max(0.0, kl);
  }

  /** The transform's output schema: the raw layout plus {@value #STATUS} and {@value #KL}. */
  static StructType outputSchema() {
    return RawColumns.SCHEMA
        .add(STATUS, DataTypes.StringType, true)
        .add(KL, DataTypes.createArrayType(DataTypes.DoubleType, false), true);
  }

  /**
   * Raw-layout rows of all teachers (one tokenizer, one temperature: the job checks) to one row per
   * (prompt id, chunk index): fused rows ({@value #STATUS} null) in the raw layout with the fused
   * teacher's provenance, and rejected groups ({@value #STATUS} = reason, the first teacher's row):
   * {@value #MISSING_TEACHER} (some teacher has no row for it), {@value #TOKENS_DIFFER} (teachers
   * labelled different token sequences), {@value #DUPLICATE} (a teacher has two rows for it with
   * different tokens or labels; identical redeliveries are used once). Rows of teachers not in
   * {@code teachers} are ignored.
   *
   * @param kOut output k, or 0 for the largest input k of the group
   */
  public static Dataset<Row> fuse(Dataset<Row> raw, List<Teacher> teachers, int kOut) {
    List<Teacher> ts = List.copyOf(teachers);
    double[] w = normalised(ts);
    String fusedId = fusedId(ts);
    String fusedSha = fusedSha256(ts);
    StructType in = RawColumns.SCHEMA;
    StructType out = outputSchema();
    int fPrompt = in.fieldIndex(RawColumns.PROMPT_ID);
    int fChunk = in.fieldIndex(RawColumns.CHUNK_INDEX);
    return raw.select(
            RawColumns.names().stream()
                .map(org.apache.spark.sql.functions::col)
                .toList()
                .toArray(new org.apache.spark.sql.Column[0]))
        .groupByKey(
            (MapFunction<Row, String>) r -> r.getString(fPrompt) + "\u0000" + r.get(fChunk),
            Encoders.STRING())
        .flatMapGroups(
            (FlatMapGroupsFunction<String, Row, Row>)
                (key, rows) -> fuseGroup(rows, ts, w, fusedId, fusedSha, kOut, out.size()),
            Encoders.row(out));
  }

  private static Iterator<Row> fuseGroup(
      Iterator<Row> rows,
      List<Teacher> ts,
      double[] w,
      String fusedId,
      String fusedSha,
      int kOutArg,
      int width) {
    StructType in = RawColumns.SCHEMA;
    int fTeacher = in.fieldIndex(RawColumns.TEACHER_ID);
    int fTeacherSha = in.fieldIndex(RawColumns.TEACHER_SHA256);
    int fTokens = in.fieldIndex(RawColumns.TOKENS);
    int fLabels = in.fieldIndex(RawColumns.SOFT_LABELS);
    Map<String, Row> byTeacher = new TreeMap<>();
    Row first = null;
    String problem = null;
    while (rows.hasNext()) {
      Row r = rows.next();
      if (first == null) {
        first = r;
      }
      String key = r.getString(fTeacher) + "@" + r.getString(fTeacherSha);
      Row prev = byTeacher.putIfAbsent(key, r);
      if (prev != null
          && !(prev.getList(fTokens).equals(r.getList(fTokens))
              && Arrays.equals((byte[]) prev.get(fLabels), (byte[]) r.get(fLabels)))) {
        problem = DUPLICATE;
      }
    }
    List<Row> ordered = new ArrayList<>();
    for (Teacher t : ts) {
      Row r = byTeacher.get(t.key());
      if (r == null) {
        problem = problem == null ? MISSING_TEACHER : problem;
      } else {
        ordered.add(r);
      }
    }
    if (problem == null) {
      for (Row r : ordered) {
        if (!r.getList(fTokens).equals(ordered.get(0).getList(fTokens))) {
          problem = TOKENS_DIFFER;
        }
      }
    }
    Object[] values = new Object[width];
    Row base = ordered.isEmpty() ? first : ordered.get(0);
    for (int i = 0; i < in.size(); i++) {
      values[i] = base.get(i);
    }
    if (problem != null) {
      values[in.size()] = problem;
      return List.of(RowFactory.create(values)).iterator();
    }
    int vocab = base.getInt(in.fieldIndex(RawColumns.VOCAB_SIZE));
    List<SoftLabels> sources = new ArrayList<>();
    int maxK = 0;
    long createdAt = Long.MIN_VALUE;
    for (Row r : ordered) {
      SoftLabels s = SoftLabelCodec.decode((byte[]) r.get(fLabels));
      sources.add(s);
      maxK = Math.max(maxK, s.k());
      createdAt = Math.max(createdAt, r.getLong(in.fieldIndex(RawColumns.CREATED_AT_MS)));
    }
    int kOut = kOutArg > 0 ? kOutArg : maxK;
    SoftLabels fused = fuse(sources, w, vocab, kOut);
    List<?> tokens = base.getList(fTokens);
    double entropy = 0;
    double margin = 0;
    double mass = 0;
    int outside = 0;
    List<Double> kls = new ArrayList<>();
    double[] klSums = new double[sources.size()];
    for (int p = 0; p < fused.positions(); p++) {
      double first1 = -1;
      double second = 0;
      for (int j = 0; j < kOut; j++) {
        double q = fused.prob(p, j);
        if (q > 0) {
          entropy -= q * Math.log(q);
        }
        if (q > first1) {
          second = Math.max(second, first1);
          first1 = q;
        } else if (q > second) {
          second = q;
        }
      }
      double tl = fused.tail(p);
      if (tl > 0) {
        entropy -= tl * Math.log(tl / Math.max(1, vocab - kOut));
      }
      margin += first1 - Math.max(0, second);
      mass += 1 - tl;
      if (p + 1 < tokens.size()
          && tokens.get(p + 1) != null
          && !fused.contains(p, ((Number) tokens.get(p + 1)).intValue())) {
        outside++;
      }
      for (int t = 0; t < sources.size(); t++) {
        klSums[t] += kl(fused, sources.get(t), p, vocab);
      }
    }
    for (double v : klSums) {
      kls.add(v);
    }
    int n = Math.max(1, fused.positions());
    String promptId = base.getString(in.fieldIndex(RawColumns.PROMPT_ID));
    values[in.fieldIndex(RawColumns.RECORD_ID)] =
        "fuse:" + promptId + ":" + base.get(in.fieldIndex(RawColumns.CHUNK_INDEX));
    values[fLabels] = SoftLabelCodec.encode(fused);
    values[in.fieldIndex(RawColumns.POSITIONS)] = fused.positions();
    values[in.fieldIndex(RawColumns.MEAN_ENTROPY)] = (float) (entropy / n);
    values[in.fieldIndex(RawColumns.MEAN_TOP1_MARGIN)] = (float) (margin / n);
    values[in.fieldIndex(RawColumns.MEAN_TOPK_MASS)] = (float) (mass / n);
    values[in.fieldIndex(RawColumns.LABEL_OUTSIDE_TOPK_RATE)] = (float) outside / n;
    values[fTeacher] = fusedId;
    values[fTeacherSha] = fusedSha;
    values[in.fieldIndex(RawColumns.TOP_K)] = kOut;
    values[in.fieldIndex(RawColumns.CODEC)] = SoftLabelCodec.NAME;
    values[in.fieldIndex(RawColumns.CODEC_VERSION)] = SoftLabelCodec.VERSION;
    values[in.fieldIndex(RawColumns.CREATED_AT_MS)] = createdAt;
    values[in.fieldIndex(RawColumns.KAFKA_PARTITION)] = null;
    values[in.fieldIndex(RawColumns.KAFKA_OFFSET)] = null;
    values[in.size()] = null;
    values[in.size() + 1] = scala.jdk.javaapi.CollectionConverters.asScala(kls).toSeq();
    return List.of(RowFactory.create(values)).iterator();
  }
}
