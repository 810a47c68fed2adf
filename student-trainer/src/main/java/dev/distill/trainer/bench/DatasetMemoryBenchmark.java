package dev.distill.trainer.bench;

import dev.distill.schemas.avro.CuratedExample;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.trainer.io.CuratedDataset;
import dev.distill.trainer.io.CuratedStream;
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

  private DatasetMemoryBenchmark() {}

  public static void main(String[] args) throws Exception {
    Path scratch = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("dataset-memory");
    int rows = args.length > 1 ? Integer.parseInt(args[1]) : 1000;
    int positions = args.length > 2 ? Integer.parseInt(args[2]) : 64;
    int k = args.length > 3 ? Integer.parseInt(args[3]) : 16;
    int perGroup = args.length > 4 ? Integer.parseInt(args[4]) : 200;
    CuratedStream.Options options = new CuratedStream.Options(4, 4, 1L);
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
        "size | examples | parquet MiB | in-memory retained MiB | streaming peak MiB | ratio");
    double firstMem = 0;
    double firstStream = 0;
    for (int scale : new int[] {1, 4, 16}) {
      Path root = scratch.resolve("x" + scale);
      long bytes = generate(root, scale, rows, positions, k, perGroup);
      int n = scale * rows;
      double mem = inMemory(root);
      double stream = streaming(root, n, options);
      if (scale == 1) {
        firstMem = mem;
        firstStream = stream;
      }
      System.out.printf(
          Locale.ROOT,
          "%2dx | %,8d | %8.1f | %8.1f (%.1fx of 1x) | %8.1f (%.1fx of 1x) | %.1f%n",
          scale,
          n,
          bytes / 1048576.0,
          mem,
          mem / firstMem,
          stream,
          stream / firstStream,
          mem / stream);
    }
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
