package dev.distill.spark.jobs;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sum;

import dev.distill.spark.transforms.Relabeling;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.DataFrameWriter;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Curated Parquet to derived curated sets, without the teacher ({@link Relabeling}): one folder per
 * variant under the output ({@code <output>/t1.0-k4/split=.../}, {@code _SUCCESS}), and a report
 * JSON with the mean KL divergence (nats per position) of each derived set from its source. With
 * {@code --to sampled:N --seed S} it also writes sampled sets (codec v2, {@code
 * <output>/sampledN-seedS/}) drawn from the top-k + tail records ({@link Relabeling#sample}).
 */
public final class RelabelJob {
  /**
   * @param inputPath curated Parquet folder (CurateJob's output)
   * @param outputPath parent folder of the derived sets
   * @param reportPath report JSON file
   * @param variants the derived top-k + tail sets
   * @param samplings the derived sampled (codec v2) sets
   * @param master Spark master; null means the active or spark-submit session's master
   */
  public record Config(
      String inputPath,
      String outputPath,
      String reportPath,
      List<Relabeling.Variant> variants,
      List<Relabeling.Sampling> samplings,
      String master) {
    public Config {
      IngestConfig.requireText("inputPath", inputPath);
      IngestConfig.requireText("outputPath", outputPath);
      IngestConfig.requireText("reportPath", reportPath);
      variants = List.copyOf(variants);
      samplings = List.copyOf(samplings);
      if (variants.isEmpty() && samplings.isEmpty()) {
        throw new IllegalArgumentException("at least one --variant or --to is needed");
      }
      if (inputPath.equals(outputPath)) {
        throw new IllegalArgumentException("inputPath and outputPath must differ");
      }
    }

    /** Top-k + tail variants only. */
    public Config(
        String inputPath,
        String outputPath,
        String reportPath,
        List<Relabeling.Variant> variants,
        String master) {
      this(inputPath, outputPath, reportPath, variants, List.of(), master);
    }
  }

  /**
   * @param rows examples relabelled per variant
   * @param meanKl variant name to mean KL(source || derived) per position, nats
   * @param outputs variant name to its folder
   */
  public record Result(long rows, Map<String, Double> meanKl, Map<String, String> outputs) {}

  private RelabelJob() {}

  public static Result run(Config config) {
    try (Sessions.Handle session = Sessions.open("distill-relabel", config.master())) {
      SparkSession spark = session.spark();
      Configuration hadoop = spark.sparkContext().hadoopConfiguration();
      Dataset<Row> source = spark.read().parquet(config.inputPath());
      boolean split = Arrays.asList(source.columns()).contains("split");
      Map<String, Double> kl = new LinkedHashMap<>();
      Map<String, String> outputs = new LinkedHashMap<>();
      long rows = 0;
      Map<String, Dataset<Row>> sets = new LinkedHashMap<>();
      for (Relabeling.Variant v : config.variants()) {
        sets.put(v.name(), Relabeling.derive(source, v));
      }
      for (Relabeling.Sampling s : config.samplings()) {
        sets.put(s.name(), Relabeling.sample(source, s));
      }
      for (Map.Entry<String, Dataset<Row>> set : sets.entrySet()) {
        String out = new Path(config.outputPath(), set.getKey()).toString();
        Dataset<Row> derived = set.getValue().persist(StorageLevel.MEMORY_AND_DISK());
        try {
          Row agg =
              derived
                  .agg(count(lit(1)), sum(Relabeling.KL), sum(col(Relabeling.POSITIONS)))
                  .first();
          rows = agg.getLong(0);
          double positions = agg.isNullAt(2) ? 0 : agg.getLong(2);
          kl.put(set.getKey(), positions == 0 ? 0.0 : agg.getDouble(1) / positions);
          DataFrameWriter<Row> w =
              derived
                  .drop(Relabeling.KL, Relabeling.POSITIONS)
                  .write()
                  .mode("overwrite")
                  .option("compression", "zstd");
          if (split) {
            w = w.partitionBy("split");
          }
          w.parquet(out);
          outputs.put(set.getKey(), out);
        } finally {
          derived.unpersist();
        }
      }
      writeReport(hadoop, config.reportPath(), rows, kl, outputs);
      return new Result(rows, kl, outputs);
    } catch (IllegalArgumentException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(
          "relabel of " + config.inputPath() + " failed: " + CurateJob.describe(e), e);
    }
  }

  private static void writeReport(
      Configuration hadoop,
      String path,
      long rows,
      Map<String, Double> kl,
      Map<String, String> outputs)
      throws java.io.IOException {
    Map<String, Object> sets = ReportJson.object();
    kl.forEach(
        (name, value) -> {
          Map<String, Object> set = ReportJson.object();
          set.put("mean_kl_nats_per_position", ReportJson.finite(value));
          set.put("output", outputs.get(name));
          sets.put(name, set);
        });
    Map<String, Object> j = ReportJson.object();
    j.put("rows", rows);
    j.put(
        "kl",
        "KL(source || derived), tail spread uniformly over the ids outside top-k; for a sampled"
            + " set KL(sampled || source), the noise of its N draws (their bias is 0 by"
            + " construction)");
    j.put("sets", sets);
    ReportJson.write(hadoop, path, j);
  }

  public static void main(String[] args) {
    JobCli.main(new Cli(), args);
  }

  /** RelabelJob's command line. */
  static final class Cli extends JobCli.JobCommand<Config> {
    private static final String TO_HELP =
        "Repeatable: a sampled set (codec v2), N ids per position drawn with replacement from each"
            + " top-k + tail record, its tail spread uniformly over the other ids.";

    @Mixin JobCli.Input input;
    @Mixin JobCli.OutputAndReport out;

    @Option(
        names = "--variant",
        paramLabel = "t=T,k=K",
        description =
            "Repeatable: a derived set at temperature T, top-k K or both (t=T, k=K, t=T,k=K).")
    List<String> variants = new ArrayList<>();

    @Option(names = "--to", paramLabel = "sampled:N", description = TO_HELP)
    List<String> samplings = new ArrayList<>();

    @Option(names = "--seed", description = "Seed of the --to draws; default 0.")
    long seed = 0;

    @Override
    void run(Config c) throws Exception {
      Result r = RelabelJob.run(c);
      System.err.printf("relabelled %d rows; mean KL per position %s%n", r.rows(), r.meanKl());
      System.out.println(c.outputPath());
    }

    @Override
    Config config() {
      List<Relabeling.Variant> parsed = new ArrayList<>();
      for (String s : variants) {
        parsed.add(Relabeling.Variant.parse(s));
      }
      List<Relabeling.Sampling> sampled = new ArrayList<>();
      for (String s : samplings) {
        sampled.add(Relabeling.Sampling.parse(s, seed));
      }
      return new Config(input.dir, out.output.dir, out.report, parsed, sampled, null);
    }
  }
}
