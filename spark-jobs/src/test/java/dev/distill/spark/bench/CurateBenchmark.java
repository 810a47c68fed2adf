package dev.distill.spark.bench;

import dev.distill.schemas.avro.LabelStats;
import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.spark.jobs.CurateConfig;
import dev.distill.spark.jobs.CurateJob;
import dev.distill.spark.jobs.CurateOptions;
import dev.distill.spark.jobs.CurateResult;
import dev.distill.spark.transforms.ExampleWeights;
import dev.distill.spark.transforms.KafkaRecordDecoding;
import dev.distill.spark.transforms.LogitFilters;
import dev.distill.spark.transforms.NearDuplicates;
import dev.distill.spark.transforms.RawColumns;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;

/**
 * Curate throughput on {@code local[2]}, side by side with a plain Parquet read-and-write of the
 * same raw data (the I/O floor), at N and 10 N records. Prints numbers; asserts nothing.
 *
 * <p>Synthetic raw data, encoded with the schemas codec: {@code positions} tokens per record from a
 * 96-id vocabulary, k = 8 at T = 2; 2% exact duplicates and 5% near-duplicates (two tokens changed)
 * of earlier records. Curate runs validation, exact dedupe, a quantile logit filter, MinHash/LSH
 * near-duplicates (J >= 0.8), split and entropy weights.
 *
 * <p>Run: {@code bash spark-jobs/bench/run.sh [N] [positions] [once]} (defaults 10000, 128; {@code
 * once} skips the 10 N run). The data lives in a temp folder, deleted at the end.
 */
public final class CurateBenchmark {
  static final int VOCAB = 96;
  static final int K = 8;

  private CurateBenchmark() {}

  /** The record of one id: deterministic; duplicates and near-duplicates copy an earlier text. */
  static Row record(long n, int positions) {
    SplittableRandom r = new SplittableRandom(n * 0x9E3779B97F4A7C15L + 17);
    long textSeed = n;
    int changes = 0;
    double u = r.nextDouble();
    if (n > 100 && u < 0.02) {
      textSeed = r.nextLong(n); // exact duplicate
    } else if (n > 100 && u < 0.07) {
      textSeed = r.nextLong(n); // near duplicate
      changes = 2;
    }
    SplittableRandom t = new SplittableRandom(textSeed * 31 + 7);
    List<Integer> tokens = new ArrayList<>(positions + 1);
    for (int i = 0; i <= positions; i++) {
      tokens.add(t.nextInt(VOCAB));
    }
    for (int c = 0; c < changes; c++) {
      int at = r.nextInt(tokens.size());
      tokens.set(at, (tokens.get(at) + 1 + r.nextInt(VOCAB - 1)) % VOCAB);
    }
    int[] ids = new int[positions * K];
    float[] probs = new float[positions * K];
    float[] tail = new float[positions];
    double entropy = 0;
    double margin = 0;
    double mass = 0;
    for (int p = 0; p < positions; p++) {
      int base = t.nextInt(VOCAB - K);
      double left = 0.95;
      for (int j = 0; j < K; j++) {
        ids[p * K + j] = base + j;
        double q = j == K - 1 ? left * 0.5 : left * (0.3 + 0.4 * t.nextDouble());
        probs[p * K + j] = (float) q;
        left -= q;
        entropy -= q * Math.log(q);
      }
      tail[p] = (float) (1 - sumOf(probs, p * K, K));
      margin += probs[p * K] - probs[p * K + 1];
      mass += 1 - tail[p];
    }
    byte[] labels = SoftLabelCodec.encode(new SoftLabels(positions, K, ids, probs, tail));
    TeacherOutput o =
        TeacherOutput.newBuilder()
            .setRecordId(String.format("r%012d", n))
            .setPromptId("p" + n)
            .setRunId("bench")
            .setSource("bench/train")
            .setTokens(tokens)
            .setSoftLabels(ByteBuffer.wrap(labels))
            .setStats(
                LabelStats.newBuilder()
                    .setPositions(positions)
                    .setMeanEntropy((float) (entropy / positions))
                    .setMeanTop1Margin((float) (margin / positions))
                    .setMeanTopkMass((float) (mass / positions))
                    .setLabelOutsideTopkRate(0f)
                    .build())
            .setProvenance(
                Provenance.newBuilder()
                    .setTeacherId("bench-teacher")
                    .setTeacherSha256("00")
                    .setTokenizerId("char")
                    .setTokenizerSha256("11")
                    .setVocabSize(VOCAB)
                    .setTemperature(2f)
                    .setTopK(K)
                    .setCodec(SoftLabelCodec.NAME)
                    .setCodecVersion(SoftLabelCodec.VERSION)
                    .setSchemaVersion(1)
                    .build())
            .setCreatedAtMs(1_700_000_000_000L)
            .build();
    return RowFactory.create(KafkaRecordDecoding.rawValues(o, null, null));
  }

  private static double sumOf(float[] a, int from, int n) {
    double s = 0;
    for (int i = from; i < from + n; i++) {
      s += a[i];
    }
    return s;
  }

  static void generate(SparkSession spark, long n, int positions, String path) {
    spark
        .range(0, n, 1, Math.max(2, (int) (n / 20000)))
        .mapPartitions(
            (MapPartitionsFunction<Long, Row>)
                it ->
                    new Iterator<>() {
                      @Override
                      public boolean hasNext() {
                        return it.hasNext();
                      }

                      @Override
                      public Row next() {
                        return record(it.next(), positions);
                      }
                    },
            Encoders.row(RawColumns.SCHEMA))
        .write()
        .mode("overwrite")
        .option("compression", "zstd")
        .parquet(path);
  }

  static double seconds(Runnable r) {
    long t = System.nanoTime();
    r.run();
    return (System.nanoTime() - t) / 1e9;
  }

  /** One size: plain copy and curate, each timed; returns {plain s, curate s}. */
  static double[] measure(SparkSession spark, Path dir, long n, int positions, boolean print) {
    String raw = dir.resolve("raw-" + n).toString();
    generate(spark, n, positions, raw);
    double plain =
        seconds(
            () ->
                spark
                    .read()
                    .parquet(raw)
                    .write()
                    .mode("overwrite")
                    .option("compression", "zstd")
                    .parquet(dir.resolve("copy-" + n).toString()));
    CurateOptions opt =
        CurateOptions.defaults()
            .withNearDuplicates(NearDuplicates.Params.withThreshold(0.8))
            .withLogitFilters(List.of(LogitFilters.Filter.parse("mean_entropy<=q0.99")))
            .withWeights(ExampleWeights.Params.entropy(1.0));
    CurateConfig config =
        new CurateConfig(
                raw,
                dir.resolve("curated-" + n).toString(),
                dir.resolve("report-" + n + ".json").toString(),
                0.1,
                null)
            .withOptions(opt);
    CurateResult[] result = new CurateResult[1];
    double curate = seconds(() -> result[0] = CurateJob.run(config));
    if (print) {
      long tokens = n * (positions + 1);
      CurateResult c = result[0];
      System.out.printf(
          "N=%,d records (%,d tokens): plain read+write %.1f s = %,.0f rec/s %,.0f tok/s;"
              + " curate %.1f s = %,.0f rec/s %,.0f tok/s; curate/plain time %.2fx"
              + " [kept %d, duplicates %d, near-dups %d, filtered %s]%n",
          n,
          tokens,
          plain,
          n / plain,
          tokens / plain,
          curate,
          n / curate,
          tokens / curate,
          curate / plain,
          c.kept(),
          c.duplicates(),
          c.nearDuplicates(),
          c.filtered());
    }
    return new double[] {plain, curate};
  }

  private static void deleteTree(Path dir) throws java.io.IOException {
    try (var files = Files.walk(dir)) {
      for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  public static void main(String[] args) throws Exception {
    long n = args.length > 0 ? Long.parseLong(args[0]) : 10_000;
    int positions = args.length > 1 ? Integer.parseInt(args[1]) : 128;
    Path dir = Files.createTempDirectory("curate-bench");
    SparkSession spark =
        SparkSession.builder()
            .appName("curate-bench")
            .master("local[2]")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "8")
            .getOrCreate();
    try {
      spark.sparkContext().setLogLevel("ERROR");
      measure(spark, dir, Math.max(1000, n / 10), positions, false); // JIT warm-up
      double[] one = measure(spark, dir, n, positions, true);
      if (args.length > 2 && args[2].equals("once")) {
        return;
      }
      double[] ten = measure(spark, dir, 10 * n, positions, true);
      System.out.printf(
          "10x data: plain time x%.2f, curate time x%.2f (linear = x10); curate/plain ratio %.2fx"
              + " at N, %.2fx at 10N%n",
          ten[0] / one[0], ten[1] / one[1], one[1] / one[0], ten[1] / ten[0]);
    } finally {
      spark.stop();
      deleteTree(dir);
    }
  }
}
