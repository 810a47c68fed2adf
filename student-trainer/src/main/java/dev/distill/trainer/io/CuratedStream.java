package dev.distill.trainer.io;

import dev.distill.trainer.data.Example;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.avro.AvroReadSupport;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.filter2.compat.FilterCompat;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.api.InitContext;
import org.apache.parquet.hadoop.api.ReadSupport;
import org.apache.parquet.hadoop.metadata.FileMetaData;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.io.ColumnIOFactory;
import org.apache.parquet.io.MessageColumnIO;
import org.apache.parquet.io.RecordReader;
import org.apache.parquet.io.api.RecordMaterializer;
import org.apache.parquet.schema.MessageType;

/**
 * Curated data (the layout and checks of {@link CuratedDataset}: {@code _SUCCESS}, tokenizer
 * sha256, codec, one provenance) read as an endless stream of examples, epoch after epoch, with
 * memory bounded by a number of row groups, not by the dataset size (issue 5, "Streams row groups
 * with a prefetching reader").
 *
 * <p>A background thread decodes one Parquet row group at a time into a queue of at most {@code
 * prefetchRowGroups} row groups (blocking when full). The consumer takes {@code shuffleRowGroups}
 * consecutive row groups into a shuffle window and emits its examples in a permutation drawn from a
 * {@link Random} seeded by {@code (seed, epoch, window start)}; each epoch also visits the files in
 * a permutation seeded by {@code (seed, epoch)}. So at most {@code prefetchRowGroups +
 * shuffleRowGroups + 1} row groups are resident, every example is emitted exactly once per epoch,
 * and the order depends only on the seed and the data.
 *
 * <p>Because the shuffle RNG is derived from the window's position, the {@link Cursor} (epoch, file
 * in the epoch's order, row group where the current window starts, examples of the window already
 * emitted) is the whole data state: {@link #open} with a saved cursor re-reads that window,
 * re-draws the same permutation and continues with the same remaining sequence.
 */
public final class CuratedStream implements AutoCloseable {
  /**
   * @param prefetchRowGroups the most decoded row groups waiting in the queue, at least 1
   * @param shuffleRowGroups row groups per shuffle window, at least 1 (1: shuffle within a row
   *     group only)
   * @param seed the shuffle seed
   */
  public record Options(int prefetchRowGroups, int shuffleRowGroups, long seed) {
    public Options {
      if (prefetchRowGroups < 1) {
        throw new IllegalArgumentException("prefetchRowGroups must be >= 1: " + prefetchRowGroups);
      }
      if (shuffleRowGroups < 1) {
        throw new IllegalArgumentException("shuffleRowGroups must be >= 1: " + shuffleRowGroups);
      }
    }

    /** The most row groups in memory at once: queue, shuffle window, the one being decoded. */
    public int maxResidentRowGroups() {
      return prefetchRowGroups + shuffleRowGroups + 1;
    }
  }

  /**
   * Where the stream is: the shuffle window starting at row group {@code rowGroup} of the {@code
   * file}-th file of epoch {@code epoch}'s file order, of which {@code offset} examples have been
   * emitted. {@link #encode()} / {@link #parse(String)} give the form saved in checkpoints.
   */
  public record Cursor(int epoch, int file, int rowGroup, int offset) {
    public static final Cursor START = new Cursor(0, 0, 0, 0);

    public Cursor {
      if (epoch < 0 || file < 0 || rowGroup < 0 || offset < 0) {
        throw new IllegalArgumentException(
            "negative cursor field: " + epoch + "/" + file + "/" + rowGroup + "/" + offset);
      }
    }

    public String encode() {
      return "epoch=" + epoch + ",file=" + file + ",rowGroup=" + rowGroup + ",offset=" + offset;
    }

    public static Cursor parse(String s) {
      Map<String, Integer> kv;
      try {
        kv =
            java.util.Arrays.stream(s.split(","))
                .map(p -> p.split("=", 2))
                .collect(Collectors.toMap(p -> p[0], p -> Integer.parseInt(p[1])));
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("bad data cursor '" + s + "'", e);
      }
      if (!kv.keySet().equals(Set.of("epoch", "file", "rowGroup", "offset"))) {
        throw new IllegalArgumentException("bad data cursor '" + s + "'");
      }
      return new Cursor(kv.get("epoch"), kv.get("file"), kv.get("rowGroup"), kv.get("offset"));
    }
  }

  /** What the reader thread hands over. */
  private sealed interface Item permits RowGroup, EpochEnd, Failure {}

  private record RowGroup(int epoch, int file, int rowGroup, List<Example> examples)
      implements Item {}

  private record EpochEnd(int epoch) implements Item {}

  private record Failure(RuntimeException error) implements Item {}

  private final List<Path> files;
  private final Options options;
  private final BlockingQueue<Item> queue;
  private final Thread reader;
  private final AtomicInteger maxQueued = new AtomicInteger();
  private final AtomicInteger resident = new AtomicInteger();
  private final AtomicInteger maxResident = new AtomicInteger();
  private volatile boolean closed;

  private List<Example> window = List.of();
  private int windowRowGroups;
  private Cursor cursor;
  private int skip;

  private CuratedStream(
      List<Path> files,
      Options options,
      Configuration conf,
      Cursor from,
      CuratedDataset.Checker checker) {
    this.files = files;
    this.options = options;
    this.queue = new ArrayBlockingQueue<>(options.prefetchRowGroups());
    this.cursor = from;
    this.skip = from.offset();
    this.reader =
        new Thread(() -> readLoop(conf, from, checker), "curated-stream-" + files.get(0).getName());
    reader.setDaemon(true);
    reader.start();
  }

  /**
   * Opens one split for streaming from {@code from} ({@link Cursor#START} for the beginning).
   *
   * @throws DataContractException as {@link CuratedDataset#read(String, String, String, String,
   *     Configuration)}: at open for a missing {@code _SUCCESS}, split folder or data files; from
   *     {@link #next()} for a bad file (named) or record
   */
  public static CuratedStream open(
      String root,
      String split,
      String expectedTokenizerId,
      String expectedTokenizerSha256,
      Configuration conf,
      Options options,
      Cursor from)
      throws IOException {
    Objects.requireNonNull(expectedTokenizerSha256, "expectedTokenizerSha256");
    Objects.requireNonNull(options, "options");
    Objects.requireNonNull(from, "from");
    Path splitPath = CuratedDataset.splitPath(root, split, conf);
    List<Path> files = CuratedDataset.dataFiles(splitPath.getFileSystem(conf), splitPath);
    if (files.isEmpty()) {
      throw new DataContractException("no data files in " + splitPath);
    }
    if (from.file() >= files.size()) {
      throw new IllegalArgumentException(
          "cursor " + from.encode() + " is past the " + files.size() + " files of " + splitPath);
    }
    return new CuratedStream(
        List.copyOf(files),
        options,
        conf,
        from,
        new CuratedDataset.Checker(expectedTokenizerId, expectedTokenizerSha256));
  }

  /** The data files, sorted by path (before the per-epoch permutation). */
  public List<Path> files() {
    return files;
  }

  /** The file order of an epoch: a permutation of {@link #files()} seeded by (seed, epoch). */
  public List<Path> fileOrder(int epoch) {
    List<Path> order = new ArrayList<>(files);
    Collections.shuffle(order, new Random(mix(options.seed(), epoch, -1, -1)));
    return order;
  }

  /** The next example; blocks while the reader thread decodes. */
  public Example next() {
    while (skip >= window.size() || windowRowGroups == 0) {
      fillWindow();
    }
    Example e = window.get(skip++);
    cursor = new Cursor(cursor.epoch(), cursor.file(), cursor.rowGroup(), skip);
    return e;
  }

  /** The position of the next example, to save with a checkpoint. */
  public Cursor cursor() {
    return cursor;
  }

  /** The most row groups seen waiting in the prefetch queue (never above the bound). */
  public int maxQueued() {
    return maxQueued.get();
  }

  /** The most decoded row groups alive at once: queued, in the window, or being decoded. */
  public int maxResident() {
    return maxResident.get();
  }

  @Override
  public void close() {
    closed = true;
    reader.interrupt();
    try {
      reader.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    queue.clear();
  }

  /** Replaces the exhausted window with the next one (up to shuffleRowGroups row groups). */
  private void fillWindow() {
    resident.addAndGet(-windowRowGroups);
    List<Example> next = new ArrayList<>();
    int groups = 0;
    Cursor start = null;
    while (groups < options.shuffleRowGroups()) {
      Item item = take();
      if (item instanceof Failure f) {
        throw f.error();
      }
      if (item instanceof EpochEnd) {
        // A window never spans two epochs; where it ends depends on the data only.
        if (groups > 0) {
          break;
        }
        continue;
      }
      RowGroup rg = (RowGroup) item;
      if (start == null) {
        start = new Cursor(rg.epoch(), rg.file(), rg.rowGroup(), 0);
      }
      next.addAll(rg.examples());
      groups++;
    }
    Collections.shuffle(
        next, new Random(mix(options.seed(), start.epoch(), start.file(), start.rowGroup())));
    window = next;
    windowRowGroups = groups;
    if (cursor.epoch() != start.epoch()
        || cursor.file() != start.file()
        || cursor.rowGroup() != start.rowGroup()) {
      skip = 0;
    }
    cursor = new Cursor(start.epoch(), start.file(), start.rowGroup(), skip);
  }

  private Item take() {
    try {
      return queue.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while reading curated data", e);
    }
  }

  private void put(Item item) throws InterruptedException {
    queue.put(item);
    maxQueued.accumulateAndGet(queue.size(), Math::max);
  }

  private void readLoop(Configuration conf, Cursor from, CuratedDataset.Checker checker) {
    try {
      int startFile = from.file();
      int startGroup = from.rowGroup();
      boolean wholeEpoch = startFile == 0 && startGroup == 0;
      for (int epoch = from.epoch(); !closed; epoch++) {
        List<Path> order = fileOrder(epoch);
        long rows = 0;
        for (int f = startFile; f < order.size() && !closed; f++) {
          rows += readFile(order.get(f), epoch, f, startGroup, conf, checker);
          startGroup = 0;
        }
        if (rows == 0 && wholeEpoch) {
          throw new DataContractException(
              "no records in " + files.size() + " data files under " + files.get(0).getParent());
        }
        startFile = 0;
        wholeEpoch = true;
        put(new EpochEnd(epoch));
      }
    } catch (InterruptedException e) {
      // close(): stop quietly.
    } catch (RuntimeException e) {
      try {
        put(new Failure(e));
      } catch (InterruptedException ignored) {
        // closed while reporting
      }
    }
  }

  /** Reads the row groups of one file from {@code firstGroup} on; returns the rows read. */
  private long readFile(
      Path file,
      int epoch,
      int fileIndex,
      int firstGroup,
      Configuration conf,
      CuratedDataset.Checker checker)
      throws InterruptedException {
    long rows = 0;
    try (ParquetFileReader in = ParquetFileReader.open(HadoopInputFile.fromPath(file, conf))) {
      FileMetaData meta = in.getFooter().getFileMetaData();
      MessageType fileSchema = meta.getSchema();
      Map<String, String> kv = meta.getKeyValueMetaData();
      AvroReadSupport<GenericRecord> support = new AvroReadSupport<>(GenericData.get());
      ReadSupport.ReadContext ctx = support.init(new InitContext(conf, setValued(kv), fileSchema));
      RecordMaterializer<GenericRecord> materializer =
          support.prepareForRead(conf, kv, fileSchema, ctx);
      MessageType requested = ctx.getRequestedSchema();
      in.setRequestedSchema(requested);
      MessageColumnIO io =
          new ColumnIOFactory(meta.getCreatedBy()).getColumnIO(requested, fileSchema, true);
      int groups = in.getRowGroups().size();
      for (int g = 0; g < firstGroup && g < groups; g++) {
        in.skipNextRowGroup();
      }
      for (int g = firstGroup; g < groups && !closed; g++) {
        PageReadStore pages = in.readNextRowGroup();
        RecordReader<GenericRecord> records =
            io.getRecordReader(pages, materializer, FilterCompat.NOOP);
        int n = Math.toIntExact(pages.getRowCount());
        List<Example> examples = new ArrayList<>(n);
        // Counted before decoding: the row group is in memory from here on.
        maxResident.accumulateAndGet(resident.incrementAndGet(), Math::max);
        for (int i = 0; i < n; i++) {
          examples.add(checker.accept(records.read(), file));
        }
        rows += n;
        put(new RowGroup(epoch, fileIndex, g, examples));
      }
    } catch (IOException | RuntimeException e) {
      if (e instanceof DataContractException dce) {
        throw dce;
      }
      throw new DataContractException(
          "cannot read Parquet file " + file + ": " + e.getMessage(), e);
    }
    return rows;
  }

  private static Map<String, Set<String>> setValued(Map<String, String> kv) {
    Map<String, Set<String>> out = new java.util.HashMap<>();
    kv.forEach((k, v) -> out.put(k, Set.of(v)));
    return out;
  }

  /** SplitMix64's finaliser over the seed and a position. */
  static long mix(long seed, int epoch, int file, int rowGroup) {
    long z = seed;
    for (long v : new long[] {epoch, file, rowGroup}) {
      z += 0x9E3779B97F4A7C15L * (v + 1L);
      z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
      z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
      z = z ^ (z >>> 31);
    }
    return z;
  }
}
