package dev.distill.spark.jobs;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat_ws;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sum;

import dev.distill.spark.transforms.Fusion;
import dev.distill.spark.transforms.ProvenanceGuard;
import dev.distill.spark.transforms.RawColumns;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Raw teacher-output Parquet of several teachers that share a tokenizer to one raw Parquet set of a
 * single fused teacher ({@link Fusion}), which CurateJob and the trainer take as one teacher, and a
 * report JSON: rows fused, rejected groups by reason, and the mean KL(fused || teacher) per
 * position for every teacher.
 */
public final class FuseJob {
  /**
   * @param inputs raw Parquet folder (one teacher each) to its mixture weight, in order
   * @param kOut output k, 0 for the largest input k
   * @param master Spark master; null means the active or spark-submit session's master
   */
  public record Config(
      Map<String, Double> inputs, String outputPath, String reportPath, int kOut, String master) {
    public Config {
      inputs = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(inputs));
      if (inputs.size() < 2) {
        throw new IllegalArgumentException("fusion needs at least two --teacher inputs");
      }
      inputs.forEach(
          (path, w) -> {
            if (!(w > 0 && Double.isFinite(w))) {
              throw new IllegalArgumentException(
                  "teacher " + path + ": weight must be a finite number > 0, got " + w);
            }
          });
      IngestConfig.requireText("outputPath", outputPath);
      IngestConfig.requireText("reportPath", reportPath);
      if (kOut < 0) {
        throw new IllegalArgumentException("k must be >= 1, got " + kOut);
      }
      if (inputs.containsKey(outputPath)) {
        throw new IllegalArgumentException("output must differ from every input: " + outputPath);
      }
    }
  }

  /**
   * @param fused rows written
   * @param rejected reason to count of (prompt id, chunk) groups not fused
   * @param teachers the fused teacher's sources, with normalised weights
   * @param meanKl teacher key (id@sha256) to mean KL(fused || teacher) per position, nats
   */
  public record Result(
      long fused,
      Map<String, Long> rejected,
      List<Fusion.Teacher> teachers,
      Map<String, Double> meanKl,
      String fusedTeacherId) {}

  private FuseJob() {}

  public static Result run(Config config) {
    return Sessions.run(
        "distill-fuse",
        config.master(),
        null,
        "fusion of " + config.inputs().keySet(),
        spark -> fuse(spark, config));
  }

  private static Result fuse(SparkSession spark, Config config) throws Exception {
    List<Fusion.Teacher> teachers = new ArrayList<>();
    List<String> tokenizers = new ArrayList<>();
    Dataset<Row> all = null;
    Float temperature = null;
    for (Map.Entry<String, Double> in : config.inputs().entrySet()) {
      Dataset<Row> raw =
          ProvenanceGuard.requireSingleProvenance(
              RawColumns.normalize(spark.read().parquet(in.getKey())));
      Row p =
          raw.select(
                  col(RawColumns.TEACHER_ID),
                  col(RawColumns.TEACHER_SHA256),
                  concat_ws("@", col(RawColumns.TOKENIZER_ID), col(RawColumns.TOKENIZER_SHA256)),
                  col(RawColumns.TEMPERATURE))
              .first();
      Fusion.Teacher t = new Fusion.Teacher(p.getString(0), p.getString(1), in.getValue());
      for (int i = 0; i < teachers.size(); i++) {
        if (!tokenizers.get(i).equals(p.getString(2))) {
          throw new IllegalArgumentException(
              "refusing to fuse teachers with different tokenizers: "
                  + teachers.get(i).key()
                  + " ("
                  + config.inputs().keySet().toArray()[i]
                  + ") uses "
                  + tokenizers.get(i)
                  + ", "
                  + t.key()
                  + " ("
                  + in.getKey()
                  + ") uses "
                  + p.getString(2));
        }
        if (teachers.get(i).key().equals(t.key())) {
          throw new IllegalArgumentException("teacher " + t.key() + " is given twice");
        }
      }
      if (temperature != null && temperature != p.getFloat(3)) {
        throw new IllegalArgumentException(
            "refusing to fuse labels at different temperatures: "
                + teachers.get(0).key()
                + " at T="
                + temperature
                + ", "
                + t.key()
                + " at T="
                + p.getFloat(3));
      }
      temperature = p.getFloat(3);
      teachers.add(t);
      tokenizers.add(p.getString(2));
      all = all == null ? raw : all.unionByName(raw);
    }
    Dataset<Row> fused =
        Fusion.fuse(all, teachers, config.kOut()).persist(StorageLevel.MEMORY_AND_DISK());
    try {
      Map<String, Long> rejected = new TreeMap<>();
      for (Row r :
          fused
              .filter(col(Fusion.STATUS).isNotNull())
              .groupBy(Fusion.STATUS)
              .agg(count(lit(1)))
              .collectAsList()) {
        rejected.put(r.getString(0), r.getLong(1));
      }
      Dataset<Row> ok = fused.filter(col(Fusion.STATUS).isNull());
      List<org.apache.spark.sql.Column> aggs = new ArrayList<>();
      aggs.add(sum(col(RawColumns.POSITIONS)));
      for (int t = 0; t < teachers.size(); t++) {
        aggs.add(sum(col(Fusion.KL).getItem(t)));
      }
      Row agg = ok.agg(count(lit(1)), aggs.toArray(new org.apache.spark.sql.Column[0])).first();
      long rows = agg.getLong(0);
      double positions = agg.isNullAt(1) ? 0 : agg.getLong(1);
      Map<String, Double> kl = new LinkedHashMap<>();
      for (int t = 0; t < teachers.size(); t++) {
        kl.put(
            teachers.get(t).key(),
            positions == 0 || agg.isNullAt(2 + t) ? 0.0 : agg.getDouble(2 + t) / positions);
      }
      ok.drop(Fusion.STATUS, Fusion.KL)
          .write()
          .mode("overwrite")
          .option("compression", "zstd")
          .parquet(config.outputPath());
      String fusedId = Fusion.fusedId(teachers);
      writeReport(spark, config, rows, rejected, teachers, kl, fusedId);
      return new Result(rows, rejected, teachers, kl, fusedId);
    } finally {
      fused.unpersist();
    }
  }

  private static void writeReport(
      SparkSession spark,
      Config config,
      long rows,
      Map<String, Long> rejected,
      List<Fusion.Teacher> teachers,
      Map<String, Double> kl,
      String fusedId)
      throws java.io.IOException {
    double wsum = teachers.stream().mapToDouble(Fusion.Teacher::weight).sum();
    List<Map<String, Object>> ts = new ArrayList<>();
    int i = 0;
    for (Map.Entry<String, Double> in : config.inputs().entrySet()) {
      Fusion.Teacher t = teachers.get(i++);
      Map<String, Object> one = ReportJson.object();
      one.put("teacher", t.key());
      one.put("input", in.getKey());
      one.put("weight", ReportJson.finite(t.weight() / wsum));
      one.put("mean_kl_fused_from_teacher_nats_per_position", ReportJson.finite(kl.get(t.key())));
      ts.add(one);
    }
    Map<String, Object> j = ReportJson.object();
    j.put("fused_rows", rows);
    j.put("fused_teacher_id", fusedId);
    j.put("rejected", rejected);
    j.put(
        "kl",
        "KL(fused || teacher) per position over the fused top-k ids and one bucket for all other"
            + " ids; a teacher's tail spread uniformly outside its top-k");
    j.put("teachers", ts);
    ReportJson.write(spark.sparkContext().hadoopConfiguration(), config.reportPath(), j);
  }

  public static void main(String[] args) {
    JobCli.main(new Cli(), args);
  }

  /** FuseJob's command line. */
  static final class Cli extends JobCli.JobCommand<Config> {
    @Option(
        names = "--teacher",
        required = true,
        paramLabel = "RAW_DIR=WEIGHT",
        description = "Repeatable, at least two: a teacher's raw Parquet and its mixture weight.")
    List<String> teachers = new ArrayList<>();

    @Mixin JobCli.OutputAndReport out;

    @Option(
        names = "--k",
        paramLabel = "K",
        defaultValue = "0",
        description = "Output k; 0 for the largest input k (default ${DEFAULT-VALUE}).")
    int k;

    @Override
    void run(Config c) throws Exception {
      Result r = FuseJob.run(c);
      System.err.printf(
          "fused %d rows as %s; rejected %s; mean KL(fused || teacher) per position %s%n",
          r.fused(), r.fusedTeacherId(), r.rejected(), r.meanKl());
      System.out.println(c.outputPath());
    }

    @Override
    Config config() {
      Map<String, Double> inputs = new LinkedHashMap<>();
      for (String s : teachers) {
        int eq = s.lastIndexOf('=');
        if (eq <= 0) {
          throw new JobCli.UsageException("--teacher wants RAW_DIR=WEIGHT, got " + s);
        }
        double weight;
        try {
          weight = Double.parseDouble(s.substring(eq + 1));
        } catch (NumberFormatException e) {
          throw new JobCli.UsageException("--teacher wants a number as WEIGHT, got " + s);
        }
        if (inputs.put(s.substring(0, eq), weight) != null) {
          throw new JobCli.UsageException("--teacher " + s.substring(0, eq) + " given twice");
        }
      }
      return new Config(inputs, out.output.dir, out.report, k, null);
    }
  }
}
