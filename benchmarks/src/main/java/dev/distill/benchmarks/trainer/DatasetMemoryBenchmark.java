package dev.distill.benchmarks.trainer;

import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.schemas.avro.CuratedExample;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.trainer.io.CuratedDataset;
import dev.distill.trainer.io.CuratedStream;
import dev.distill.trainer.loss.DistillationLoss;
import dev.distill.trainer.training.ProgressListener;
import dev.distill.trainer.training.SoftLabelBatches;
import dev.distill.trainer.training.StreamingBatches;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainingLoop;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.avro.AvroParquetWriter;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.hadoop.util.HadoopOutputFile;

/**
 * Peak heap of reading curated data vs dataset size (issue 5, "Peak memory of training vs dataset
 * size (flat)"): synthetic curated sets of 1x, 4x and 16x the base size (one Parquet file of {@code
 * rows} records per 1x, soft labels encoded with the schemas codec), each read by the in-memory
 * {@link CuratedDataset} and streamed through one epoch by {@link CuratedStream}, side by side in
 * one JVM. Heap is measured as used heap after {@code System.gc()} minus the baseline before the
 * pass: after loading for the in-memory reader (what it keeps for the whole run), and the maximum
 * of {@code samples} GC-after samples spread over the epoch for the stream. Not a test: prints
 * numbers.
 *
 * <p>Args: scratch folder (default a temp folder), rows per 1x (default 1000), positions per
 * example (default 64), k (default 16), rows per row group (default 200).
 */
public final class DatasetMemoryBenchmark {
  private static final String SHA = "bench-tokenizer-sha256";
  private static final int VOCAB = 256;
  private static final int SAMPLES = 20;
  private static final int TRAIN_STEPS = 20;
  private static final CuratedStream.Options OPTIONS = new CuratedStream.Options(4, 4, 1L);

  private DatasetMemoryBenchmark() {}

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("--measure")) {
      measure(args);
      return;
    }
    Path scratch = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("dataset-memory");
    int rows = args.length > 1 ? Integer.parseInt(args[1]) : 1000;
    int positions = args.length > 2 ? Integer.parseInt(args[2]) : 64;
    int k = args.length > 3 ? Integer.parseInt(args[3]) : 16;
    int perGroup = args.length > 4 ? Integer.parseInt(args[4]) : 200;
    CuratedStream.Options options = OPTIONS;
    System.out.printf(
        Locale.ROOT,
        "%,d rows per 1x, %d positions, k=%d, %d rows per row group; stream: prefetch %d,"
            + " shuffle window %d row groups; max heap %,d MiB%n",
        rows,
        positions,
        k,
        perGroup,
        options.prefetchRowGroups(),
        options.shuffleRowGroups(),
        Runtime.getRuntime().maxMemory() >> 20);
    System.out.println(
        "size | examples | parquet MiB | read: in-memory retained MiB | read: streaming peak MiB"
            + " | train: SoftLabelBatches peak MiB | train: StreamingBatches peak MiB");
    double[] first = null;
    for (int scale : new int[] {1, 4, 16}) {
      Path root = scratch.resolve("x" + scale);
      long bytes = generate(root, scale, rows, positions, k, perGroup);
      int n = scale * rows;
      double[] m = new double[MODES.length];
      for (int i = 0; i < MODES.length; i++) {
        m[i] = child(MODES[i], root, n, positions, k);
      }
      if (first == null) {
        first = m;
      }
      StringBuilder line =
          new StringBuilder(
              String.format(Locale.ROOT, "%2dx | %,8d | %8.1f", scale, n, bytes / 1048576.0));
      for (int i = 0; i < m.length; i++) {
        line.append(String.format(Locale.ROOT, " | %7.1f (%4.1fx)", m[i], m[i] / first[i]));
      }
      System.out.println(line);
    }
    System.out.println("(Nx): the value divided by the same column's value at 1x");
  }

  /**
   * The most heap seen (GC-after samples every 5 steps) over {@value #TRAIN_STEPS} steps of
   * training a 1-layer, 32-wide student, data included: the in-memory path loads the whole split
   * first, as the demo does; the streaming path reads it through {@link StreamingBatches}. Tensors
   * live in native memory; this is the Java heap, where the examples are.
   */
  private static double training(
      Path root, int positions, int k, CuratedStream.Options options, boolean stream)
      throws Exception {
    long base = usedAfterGc();
    long[] peak = {0};
    StringBuilder corpus = new StringBuilder();
    for (int i = 0; i < VOCAB; i++) {
      corpus.appendCodePoint(0x100 + i);
    }
    CharTokenizer tok = CharTokenizer.fromCorpus(corpus.toString());
    DistillationLoss loss = new DistillationLoss(0.5f, 1f);
    TrainConfig tc =
        TrainConfig.builder(TRAIN_STEPS, 16, 1e-3f)
            .warmupSteps(2)
            .minLearningRate(1e-4f)
            .evaluation(TRAIN_STEPS, 1)
            .seed(1L)
            .build();
    ProgressListener sample =
        (step, total, l, v, tps) -> {
          if (step % 5 == 0) {
            peak[0] = Math.max(peak[0], usedAfterGc() - base);
          }
        };
    try (LanguageModel lm =
        LanguageModel.create(new GptConfig(VOCAB, positions, 1, 2, 32, 0f), tok, 1L)) {
      if (stream) {
        try (StreamingBatches train =
            new StreamingBatches(
                c ->
                    CuratedStream.open(
                        root.toString(), "train", null, SHA, new Configuration(), options, c),
                16,
                loss)) {
          TrainingLoop.run(lm, train, train, tc, sample);
        }
      } else {
        CuratedDataset ds = CuratedDataset.read(root.toString(), "train", SHA);
        SoftLabelBatches train = new SoftLabelBatches(ds.examples(), 16, loss);
        TrainingLoop.run(lm, train, train, tc, sample);
      }
    }
    return peak[0] / 1048576.0;
  }

  private static final String[] MODES = {
    "read-memory", "read-stream", "train-memory", "train-stream"
  };

  /**
   * Runs one measurement in a fresh JVM with this JVM's classpath and max heap, so that caches and
   * garbage of one measurement do not count in the next; returns the MiB it prints.
   */
  private static double child(String mode, Path root, int n, int positions, int k)
      throws Exception {
    List<String> cmd =
        List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-Xmx" + (Runtime.getRuntime().maxMemory() >> 20) + "m",
            "-cp",
            System.getProperty("java.class.path"),
            DatasetMemoryBenchmark.class.getName(),
            "--measure",
            mode,
            root.toString(),
            Integer.toString(n),
            Integer.toString(positions),
            Integer.toString(k));
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    String out =
        new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException(mode + " on " + root + " failed: " + out);
    }
    String[] lines = out.strip().split("\n");
    return Double.parseDouble(lines[lines.length - 1].replace("MiB=", ""));
  }

  private static void measure(String[] args) throws Exception {
    String mode = args[1];
    Path root = Path.of(args[2]);
    int n = Integer.parseInt(args[3]);
    int positions = Integer.parseInt(args[4]);
    int k = Integer.parseInt(args[5]);
    CuratedStream.Options options = OPTIONS;
    double mib =
        switch (mode) {
          case "read-memory" -> inMemory(root);
          case "read-stream" -> streaming(root, n, options);
          case "train-memory" -> training(root, positions, k, options, false);
          case "train-stream" -> training(root, positions, k, options, true);
          default -> throw new IllegalArgumentException("unknown mode " + mode);
        };
    System.out.println("MiB=" + mib);
  }

  /** Heap retained by the in-memory reader after loading, MiB. */
  private static double inMemory(Path root) throws Exception {
    long base = usedAfterGc();
    CuratedDataset ds = CuratedDataset.read(root.toString(), "train", SHA);
    long used = usedAfterGc();
    if (ds.examples().isEmpty()) {
      throw new IllegalStateException("no examples");
    }
    return (used - base) / 1048576.0;
  }

  /** The most heap seen (GC-after samples) while streaming one epoch, MiB. */
  private static double streaming(Path root, int n, CuratedStream.Options options)
      throws Exception {
    long base = usedAfterGc();
    long peak = 0;
    int every = Math.max(1, n / SAMPLES);
    long positions = 0;
    try (CuratedStream s =
        CuratedStream.open(
            root.toString(),
            "train",
            null,
            SHA,
            new Configuration(),
            options,
            CuratedStream.Cursor.START)) {
      for (int i = 0; i < n; i++) {
        positions += s.next().positions();
        if (i % every == every - 1) {
          peak = Math.max(peak, usedAfterGc() - base);
        }
      }
      if (s.maxResident() > options.maxResidentRowGroups()) {
        throw new IllegalStateException("stream held " + s.maxResident() + " row groups");
      }
    }
    if (positions == 0) {
      throw new IllegalStateException("no positions");
    }
    return peak / 1048576.0;
  }

  private static long usedAfterGc() {
    MemoryMXBean mx = ManagementFactory.getMemoryMXBean();
    System.gc();
    System.gc();
    return mx.getHeapMemoryUsage().getUsed();
  }

  /** Writes {@code scale} files of {@code rows} synthetic records; returns the bytes written. */
  private static long generate(Path root, int scale, int rows, int positions, int k, int perGroup)
      throws Exception {
    Path split = root.resolve("split=train");
    Files.createDirectories(split);
    Configuration conf = new Configuration();
    conf.setBoolean("parquet.avro.write-old-list-structure", false);
    Random rnd = new Random(scale);
    long bytes = 0;
    for (int f = 0; f < scale; f++) {
      Path file = split.resolve(String.format(Locale.ROOT, "part-%05d.parquet", f));
      Files.deleteIfExists(file);
      try (ParquetWriter<CuratedExample> w =
          AvroParquetWriter.<CuratedExample>builder(
                  HadoopOutputFile.fromPath(new org.apache.hadoop.fs.Path(file.toUri()), conf))
              .withSchema(CuratedExample.getClassSchema())
              .withConf(conf)
              .withCompressionCodec(CompressionCodecName.ZSTD)
              .withRowGroupRowCountLimit(perGroup)
              .build()) {
        for (int r = 0; r < rows; r++) {
          w.write(record("x" + scale + "-" + f + "-" + r, positions, k, rnd));
        }
      }
      bytes += Files.size(file);
    }
    Files.deleteIfExists(root.resolve("_SUCCESS"));
    Files.createFile(root.resolve("_SUCCESS"));
    return bytes;
  }

  /** A record with random tokens and random top-k labels (ids ascending, mass 0.9 + tail). */
  private static CuratedExample record(String id, int positions, int k, Random rnd) {
    int[] ids = new int[positions * k];
    float[] probs = new float[positions * k];
    float[] tail = new float[positions];
    List<Integer> tokens = new ArrayList<>(positions + 1);
    int stride = VOCAB / k;
    for (int p = 0; p < positions; p++) {
      float sum = 0;
      for (int j = 0; j < k; j++) {
        ids[p * k + j] = j * stride + rnd.nextInt(stride);
        probs[p * k + j] = 0.1f + rnd.nextFloat();
        sum += probs[p * k + j];
      }
      for (int j = 0; j < k; j++) {
        probs[p * k + j] *= 0.9f / sum;
      }
      tail[p] = 0.1f;
      tokens.add(rnd.nextInt(VOCAB));
    }
    tokens.add(rnd.nextInt(VOCAB));
    byte[] labels = SoftLabelCodec.encode(new SoftLabels(positions, k, ids, probs, tail));
    return CuratedExample.newBuilder()
        .setExampleId(id)
        .setSource("bench")
        .setTokens(tokens)
        .setSoftLabels(ByteBuffer.wrap(labels))
        .setWeight(1f)
        .setMeanEntropy(1f)
        .setMeanTopkMass(0.9f)
        .setTeacherId("bench-teacher")
        .setTeacherSha256("bench-teacher-sha256")
        .setTokenizerId("bench-tok")
        .setTokenizerSha256(SHA)
        .setVocabSize(VOCAB)
        .setTemperature(1f)
        .setTopK(k)
        .setCodec(SoftLabelCodec.NAME)
        .setCodecVersion(SoftLabelCodec.VERSION)
        .setSchemaVersion(1)
        .build();
  }
}
