package dev.distill.spark.bench;

import dev.distill.schemas.avro.LabelStats;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.spark.TestRecords;
import dev.distill.spark.jobs.CurateConfig;
import dev.distill.spark.jobs.CurateJob;
import dev.distill.spark.jobs.CurateOptions;
import dev.distill.spark.jobs.CurateResult;
import dev.distill.spark.transforms.ExampleWeights;
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
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
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
 * <p>Run: {@code bash spark-jobs/bench/run.sh [N] [positions] [rounds] [once] [quality]} (defaults
 * 10000, 128, 3; {@code once} skips the 10 N run; {@code quality} adds the near-duplicate precision
 * and recall against exact Jaccard; {@code jobs} lists what started each Spark job of the last
 * curation; {@code decontaminate} adds decontamination against the val split (13-grams); {@code
 * shuffle=A,B} sets {@code spark.sql.shuffle.partitions} to A before the curations of even rounds
 * and to B before odd ones, and prints each round's CPU-seconds; {@code nonear} adds a third arm to
 * every round, the same curation without near-duplicates, for issue 14's 0.8x target). Each size
 * runs {@code rounds} interleaved rounds (plain copy, curate[, curate without near-duplicates],
 * plain copy, curate, ...) in one JVM and prints medians, their ratio, and the Spark jobs and
 * stages of the last curation (counted by a listener, as the event log records them) and its
 * Parquet files. The data lives in a temp folder, deleted at the end.
 */
public final class CurateBenchmark {
  static final int VOCAB = 96;
  static final int K = 8;

  private CurateBenchmark() {}

  /** The seed of record n's text: its own, or an earlier record's for a (near-)duplicate. */
  static long textSeed(long n) {
    SplittableRandom r = new SplittableRandom(n * 0x9E3779B97F4A7C15L + 17);
    double u = r.nextDouble();
    return n > 100 && u < 0.07 ? r.nextLong(n) : n;
  }

  /** The token ids of record n, exactly as {@link #record} makes them. */
  static int[] tokens(long n, int positions) {
    SplittableRandom r = new SplittableRandom(n * 0x9E3779B97F4A7C15L + 17);
    long textSeed = n;
    int changes = 0;
    double u = r.nextDouble();
    if (n > 100 && u < 0.02) {
      textSeed = r.nextLong(n);
    } else if (n > 100 && u < 0.07) {
      textSeed = r.nextLong(n);
      changes = 2;
    }
    SplittableRandom t = new SplittableRandom(textSeed * 31 + 7);
    int[] tokens = new int[positions + 1];
    for (int i = 0; i <= positions; i++) {
      tokens[i] = t.nextInt(VOCAB);
    }
    for (int c = 0; c < changes; c++) {
      int at = r.nextInt(tokens.length);
      tokens[at] = (tokens[at] + 1 + r.nextInt(VOCAB - 1)) % VOCAB;
    }
    return tokens;
  }

  /**
   * Precision and recall of NearDuplicates' pairs (MinHash/LSH candidates, exact verification)
   * against the exact Jaccard of every pair that shares a text seed (the planted duplicates and
   * near-duplicates; records with different seeds are random texts over 96^5 possible 5-grams, so
   * their Jaccard is about 0).
   */
  static void nearDuplicateQuality(SparkSession spark, String raw, long n, int positions) {
    NearDuplicates.Params p = NearDuplicates.Params.withThreshold(0.8);
    java.util.Map<Long, List<Long>> families = new java.util.HashMap<>();
    for (long i = 0; i < n; i++) {
      families.computeIfAbsent(textSeed(i), k -> new ArrayList<>()).add(i);
    }
    java.util.Set<String> truth = new java.util.HashSet<>();
    for (List<Long> f : families.values()) {
      for (int a = 0; a < f.size(); a++) {
        for (int b = a + 1; b < f.size(); b++) {
          if (NearDuplicates.tokenJaccard(
                  tokens(f.get(a), positions), tokens(f.get(b), positions), p)
              >= p.threshold()) {
            truth.add(pair(f.get(a), f.get(b)));
          }
        }
      }
    }
    java.util.Set<String> found = new java.util.HashSet<>();
    for (Row r :
        NearDuplicates.verifiedPairs(
                NearDuplicates.signatures(NearDuplicates.withKey(spark.read().parquet(raw)), p), p)
            .collectAsList()) {
      found.add(pair(id(r.getString(0)), id(r.getString(1))));
    }
    long both = found.stream().filter(truth::contains).count();
    System.out.printf(
        "near-duplicates at J >= 0.8, N=%,d: %,d true pairs (exact Jaccard within the planted"
            + " families), %,d found; precision %.4f, recall %.4f%n",
        n,
        truth.size(),
        found.size(),
        found.isEmpty() ? 1.0 : (double) both / found.size(),
        truth.isEmpty() ? 1.0 : (double) both / truth.size());
  }

  private static long id(String key) {
    return Long.parseLong(key.substring(1, key.indexOf('\u0001')));
  }

  private static String pair(long a, long b) {
    return Math.min(a, b) + "-" + Math.max(a, b);
  }

  /** The raw row of one id: deterministic; duplicates and near-duplicates copy an earlier text. */
  static Row record(long n, int positions) {
    return TestRecords.rawRow(teacherOutput(n, positions));
  }

  /** The teacher output of one id, as {@link #record} stores it. */
  static TeacherOutput teacherOutput(long n, int positions) {
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
    return TeacherOutput.newBuilder()
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
            dev.distill.schemas.TestRecords.provenance(
                "teacher-a", "aa11", "char", "cc22", VOCAB, K))
        .setCreatedAtMs(1_700_000_000_000L)
        .build();
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

  /** The benchmarks' session: {@code local[2]}, 8 shuffle partitions, no UI, errors only. */
  static SparkSession localSession(String appName) {
    SparkSession spark =
        SparkSession.builder()
            .appName(appName)
            .master("local[2]")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "8")
            .getOrCreate();
    spark.sparkContext().setLogLevel("ERROR");
    return spark;
  }

  /** CPU time of this JVM (all threads), in seconds. */
  static double processCpuSeconds() {
    return ((com.sun.management.OperatingSystemMXBean)
                java.lang.management.ManagementFactory.getOperatingSystemMXBean())
            .getProcessCpuTime()
        / 1e9;
  }

  static double seconds(Runnable r) {
    long t = System.nanoTime();
    r.run();
    return (System.nanoTime() - t) / 1e9;
  }

  /** Spark jobs started and stages completed (skipped stages do not complete), as the event log. */
  static final class JobCounter extends SparkListener {
    final AtomicInteger jobs = new AtomicInteger();
    final AtomicInteger stages = new AtomicInteger();
    final List<String> callSites = java.util.Collections.synchronizedList(new ArrayList<>());

    @Override
    public void onJobStart(SparkListenerJobStart e) {
      jobs.incrementAndGet();
      jobStarts.put(e.jobId(), e.time());
      // The job's last stage is named after the call site that started it.
      List<org.apache.spark.scheduler.StageInfo> stages =
          new ArrayList<>(scala.jdk.javaapi.CollectionConverters.asJava(e.stageInfos()));
      stages.sort(java.util.Comparator.comparingInt(org.apache.spark.scheduler.StageInfo::stageId));
      callSites.add(
          stages.isEmpty()
              ? "?"
              : stages.get(stages.size() - 1).name() + " (" + stages.size() + " stages)");
    }

    @Override
    public void onStageCompleted(SparkListenerStageCompleted e) {
      stages.incrementAndGet();
      org.apache.spark.scheduler.StageInfo s = e.stageInfo();
      org.apache.spark.executor.TaskMetrics m = s.taskMetrics();
      long ms =
          s.submissionTime().isDefined() && s.completionTime().isDefined()
              ? (Long) s.completionTime().get() - (Long) s.submissionTime().get()
              : -1;
      stageLines.add(
          String.format(
              "stage %d: %.2f s wall, %d tasks, executor run %.2f s, cpu %.2f s, gc %.2f s,"
                  + " shuffle read %,d B, shuffle write %,d B, input %,d B, output %,d B: %s",
              s.stageId(),
              ms / 1e3,
              s.numTasks(),
              m.executorRunTime() / 1e3,
              m.executorCpuTime() / 1e9,
              m.jvmGCTime() / 1e3,
              m.shuffleReadMetrics().totalBytesRead(),
              m.shuffleWriteMetrics().bytesWritten(),
              m.inputMetrics().bytesRead(),
              m.outputMetrics().bytesWritten(),
              s.name()));
      cpuNanos.addAndGet(m.executorCpuTime());
    }

    @Override
    public void onJobEnd(org.apache.spark.scheduler.SparkListenerJobEnd e) {
      Long start = jobStarts.remove(e.jobId());
      jobLines.add(
          String.format(
              "job %d: %.2f s wall", e.jobId(), start == null ? -1 : (e.time() - start) / 1e3));
    }

    final List<String> stageLines = java.util.Collections.synchronizedList(new ArrayList<>());
    final List<String> jobLines = java.util.Collections.synchronizedList(new ArrayList<>());
    final java.util.Map<Integer, Long> jobStarts = new java.util.concurrent.ConcurrentHashMap<>();
    final java.util.concurrent.atomic.AtomicLong cpuNanos =
        new java.util.concurrent.atomic.AtomicLong();
  }

  /** Parquet part files under a folder (all splits). */
  static long parquetFiles(Path dir) throws java.io.IOException {
    try (var files = Files.walk(dir)) {
      return files.filter(f -> f.getFileName().toString().endsWith(".parquet")).count();
    }
  }

  static double median(List<Double> xs) {
    List<Double> s = new ArrayList<>(xs);
    s.sort(null);
    int m = s.size() / 2;
    return s.size() % 2 == 1 ? s.get(m) : (s.get(m - 1) + s.get(m)) / 2;
  }

  /**
   * One size: {@code rounds} interleaved rounds of a plain copy and a full curation (A, B, A, B),
   * each timed; prints the medians and their ratio, and the last curation's jobs, stages and files;
   * returns {median plain s, median curate s}.
   */
  static double[] measure(
      SparkSession spark,
      JobCounter counter,
      Path dir,
      long n,
      int positions,
      int rounds,
      boolean print,
      boolean quality,
      boolean listJobs)
      throws Exception {
    String raw = dir.resolve("raw-" + n).toString();
    generate(spark, n, positions, raw);
    CurateOptions opt =
        CurateOptions.defaults()
            .withNearDuplicates(NearDuplicates.Params.withThreshold(0.8))
            .withLogitFilters(List.of(LogitFilters.Filter.parse("mean_entropy<=q0.99")))
            .withWeights(ExampleWeights.Params.entropy(1.0));
    if (decontaminate) {
      // Against the val split itself: the benchmark has no evaluation set of its own.
      opt =
          opt.withDecontamination(
              new dev.distill.spark.transforms.Decontamination.Params(
                  dev.distill.spark.transforms.Decontamination.DEFAULT_NGRAM, null, true));
    }
    Path curated = dir.resolve("curated-" + n);
    CurateConfig config =
        new CurateConfig(
                raw, curated.toString(), dir.resolve("report-" + n + ".json").toString(), 0.1, null)
            .withOptions(opt);
    // The third arm (nonear): the same curation without near-duplicates (issue 14's 0.8x target).
    Path curatedNoNear = dir.resolve("curated-nonear-" + n);
    CurateConfig noNearConfig =
        new CurateConfig(
                raw,
                curatedNoNear.toString(),
                dir.resolve("report-nonear-" + n + ".json").toString(),
                0.1,
                null)
            .withOptions(opt.withNearDuplicates(null));
    List<Double> plain = new ArrayList<>();
    List<Double> plainCpu = new ArrayList<>();
    Arm full = new Arm("curate", config);
    Arm noNear = new Arm("curate without near-duplicates", noNearConfig);
    List<Arm> arms = noNearArm ? List.of(full, noNear) : List.of(full);
    List<Double> plainTaskCpu = new ArrayList<>();
    for (int round = 0; round < rounds; round++) {
      long task0 = counter.cpuNanos.get();
      double cpu0 = processCpuSeconds();
      plain.add(
          seconds(
              () ->
                  spark
                      .read()
                      .parquet(raw)
                      .write()
                      .mode("overwrite")
                      .option("compression", "zstd")
                      .parquet(dir.resolve("copy-" + n).toString())));
      double cpu1 = processCpuSeconds();
      plainCpu.add(cpu1 - cpu0);
      Thread.sleep(200); // listener events are delivered asynchronously
      plainTaskCpu.add((counter.cpuNanos.get() - task0) / 1e9);
      String[] shuffle = shuffleAb;
      if (shuffle != null) {
        // A/B of spark.sql.shuffle.partitions: A on even rounds, B on odd ones (issue 14).
        spark.conf().set("spark.sql.shuffle.partitions", shuffle[round % 2]);
      }
      for (Arm arm : arms) {
        Thread.sleep(200);
        arm.run(counter);
      }
      if (shuffle != null && print) {
        System.out.printf(
            "  round %d: shuffle partitions %s, curate cpu s %.1f, wall s %.1f, load %.1f%n",
            round + 1,
            shuffle[round % 2],
            full.cpu.get(round),
            full.wall.get(round),
            loadAverage());
      }
    }
    double p = median(plain);
    double c = median(full.wall);
    if (print) {
      long tokens = n * (positions + 1);
      for (Arm arm : arms) {
        CurateResult r = arm.result;
        double a = median(arm.wall);
        System.out.printf(
            "| %,d | %,d | %.1f | %.1f | %.2fx | %d | %d | %d |   %s, rounds %d: plain %s curate"
                + " %s; %,.0f rec/s %,.0f tok/s curated [kept %d, duplicates %d, near-dups %d,"
                + " filtered %s, contaminated %d]%n",
            n,
            tokens,
            p,
            a,
            a / p,
            arm.jobs,
            arm.stages,
            parquetFiles(arm == full ? curated : curatedNoNear),
            arm.name,
            rounds,
            format(plain),
            format(arm.wall),
            n / a,
            tokens / a,
            r.kept(),
            r.duplicates(),
            r.nearDuplicates(),
            r.filtered(),
            r.contaminated());
      }
      // CPU-seconds of the whole JVM (driver and the local executor): on a shared machine they
      // move far less with the load than wall seconds.
      for (Arm arm : arms) {
        System.out.printf(
            "process cpu s (%s): plain %s curate %s; medians %.1f / %.1f = %.2fx%n",
            arm.name,
            format(plainCpu),
            format(arm.cpu),
            median(plainCpu),
            median(arm.cpu),
            median(arm.cpu) / median(plainCpu));
      }
      // The executor (task thread) CPU-seconds, as the listener sums them: what the process
      // CPU-seconds hold beyond them is GC, JIT compilation and the driver.
      System.out.printf(
          "task cpu s: plain %s (median %.1f)%s%n",
          format(plainTaskCpu),
          median(plainTaskCpu),
          arms.stream()
              .map(
                  a ->
                      String.format(
                          "; %s %s (median %.1f)", a.name, format(a.taskCpu), median(a.taskCpu)))
              .reduce("", String::concat));
      System.out.printf("load average %.1f%n", loadAverage());
    }
    if (print && listJobs) {
      // What started each job of the last curation (Spark's short call site), how long each
      // job took, and each completed stage's tasks, executor CPU and shuffle bytes.
      for (Arm arm : arms) {
        System.out.printf("last round, %s:%n", arm.name);
        for (int i = 0; i < arm.sites.size(); i++) {
          System.out.printf("  job %d: %s%n", i + 1, arm.sites.get(i));
        }
        arm.jobLines.forEach(l -> System.out.println("  " + l));
        arm.stageLines.forEach(l -> System.out.println("  " + l));
      }
    }
    if (print && quality) {
      nearDuplicateQuality(spark, raw, n, positions);
    }
    return new double[] {p, c};
  }

  /** One curation configuration of a round: its times and what the listener saw of its last run. */
  static final class Arm {
    final String name;
    final CurateConfig config;
    final List<Double> wall = new ArrayList<>();
    final List<Double> cpu = new ArrayList<>();
    final List<Double> taskCpu = new ArrayList<>();
    CurateResult result;
    int jobs;
    int stages;
    List<String> sites = List.of();
    List<String> stageLines = List.of();
    List<String> jobLines = List.of();

    Arm(String name, CurateConfig config) {
      this.name = name;
      this.config = config;
    }

    void run(JobCounter counter) throws InterruptedException {
      int j0 = counter.jobs.get();
      int s0 = counter.stages.get();
      int sl0 = counter.stageLines.size();
      int jl0 = counter.jobLines.size();
      long task0 = counter.cpuNanos.get();
      double cpu0 = processCpuSeconds();
      wall.add(seconds(() -> result = CurateJob.run(config)));
      cpu.add(processCpuSeconds() - cpu0);
      Thread.sleep(200); // listener events are delivered asynchronously
      taskCpu.add((counter.cpuNanos.get() - task0) / 1e9);
      jobs = counter.jobs.get() - j0;
      stages = counter.stages.get() - s0;
      sites = new ArrayList<>(counter.callSites.subList(j0, counter.jobs.get()));
      stageLines = new ArrayList<>(counter.stageLines.subList(sl0, counter.stageLines.size()));
      jobLines = new ArrayList<>(counter.jobLines.subList(jl0, counter.jobLines.size()));
    }
  }

  static double loadAverage() {
    return java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
  }

  private static String format(List<Double> xs) {
    return xs.stream().map(x -> String.format("%.1f", x)).toList().toString();
  }

  static void deleteTree(Path dir) throws java.io.IOException {
    try (var files = Files.walk(dir)) {
      for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  /** {@code decontaminate} on the command line: decontamination against the val split too. */
  private static boolean decontaminate;

  /** {@code nonear} on the command line: a third arm, the curation without near-duplicates. */
  private static boolean noNearArm;

  /** {@code shuffle=A,B} on the command line: the two shuffle partition counts, else null. */
  private static String[] shuffleAb;

  public static void main(String[] args) throws Exception {
    for (String a : args) {
      if (a.startsWith("shuffle=")) {
        shuffleAb = a.substring("shuffle=".length()).split(",");
      }
    }
    long n = args.length > 0 ? Long.parseLong(args[0]) : 10_000;
    int positions = args.length > 1 ? Integer.parseInt(args[1]) : 128;
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
    boolean once = java.util.Arrays.asList(args).contains("once");
    boolean quality = java.util.Arrays.asList(args).contains("quality");
    boolean listJobs = java.util.Arrays.asList(args).contains("jobs");
    decontaminate = java.util.Arrays.asList(args).contains("decontaminate");
    noNearArm = java.util.Arrays.asList(args).contains("nonear");
    Path dir = Files.createTempDirectory("curate-bench");
    SparkSession spark = localSession("curate-bench");
    JobCounter counter = new JobCounter();
    spark.sparkContext().addSparkListener(counter);
    try {
      measure(
          spark,
          counter,
          dir,
          Math.max(1000, n / 10),
          positions,
          1,
          false,
          false,
          false); // JIT warm-up
      System.out.println(
          "| records | tokens | plain s | curate s | curate/plain | jobs | stages | files |");
      double[] one = measure(spark, counter, dir, n, positions, rounds, true, quality, listJobs);
      if (once) {
        return;
      }
      double[] ten =
          measure(spark, counter, dir, 10 * n, positions, rounds, true, quality, listJobs);
      System.out.printf(
          "10x data: plain time x%.2f, curate time x%.2f (linear = x10)%n",
          ten[0] / one[0], ten[1] / one[1]);
    } finally {
      spark.stop();
      deleteTree(dir);
    }
  }
}
