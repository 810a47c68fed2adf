package dev.distill.trainer.io;

import dev.distill.schemas.codec.CodecException;
import dev.distill.schemas.codec.SampledSoftLabelCodec;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.trainer.data.Example;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.generic.IndexedRecord;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.parquet.avro.AvroParquetReader;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.util.HadoopInputFile;

/**
 * Curated data as written by the Spark CurateJob: a root folder with {@code _SUCCESS} and partition
 * folders {@code split=train/}, {@code split=val/}, ... of Parquet files whose columns are named
 * exactly like the fields of the Avro record {@code dev.distill.schemas.avro.CuratedExample}.
 *
 * <p>Any Hadoop path works ({@code hdfs://}, {@code s3a://}, {@code file:}); a plain local path is
 * read from the local file system. Files are found recursively under the partition folder with the
 * Hadoop {@link FileSystem} API; names starting with {@code _} or {@code .} (Spark markers,
 * checksums) are skipped, in files and in folders. Lists are accepted in both Parquet layouts
 * (Spark's 3-level {@code list/element} and the old 2-level one). All records are read and their
 * soft labels decoded into memory.
 *
 * <p>Every record must carry the expected tokenizer sha256, the {@value SoftLabelCodec#NAME} codec
 * (or {@value SampledSoftLabelCodec#NAME}, v2, decoded as sampled labels with k = N) v{@value
 * SoftLabelCodec#VERSION}, and the same teacher (id and sha256), tokenizer id, temperature, k and
 * vocabulary size as the first record; each record's decoded labels must have {@code tokens.length
 * - 1} positions and {@code topK} ids per position.
 */
public final class CuratedDataset {
  /** The marker a finished batch write leaves in the root folder. */
  public static final String SUCCESS_MARKER = "_SUCCESS";

  private final List<Example> examples;
  private final String teacherId;
  private final String teacherSha256;
  private final String tokenizerId;
  private final String tokenizerSha256;
  private final float temperature;
  private final int topK;
  private final int vocabSize;
  private final long tokens;

  private CuratedDataset(List<Example> examples, Provenance prov) {
    this.examples = Collections.unmodifiableList(examples);
    this.teacherId = prov.teacherId;
    this.teacherSha256 = prov.teacherSha256;
    this.tokenizerId = prov.tokenizerId;
    this.tokenizerSha256 = prov.tokenizerSha256;
    this.temperature = prov.temperature;
    this.topK = prov.topK;
    this.vocabSize = prov.vocabSize;
    long n = 0;
    for (Example e : examples) {
      n += e.positions();
    }
    this.tokens = n;
  }

  /**
   * Reads one split, checking the tokenizer against the student's by sha256 only.
   *
   * @see #read(String, String, String, String, Configuration)
   */
  public static CuratedDataset read(String root, String split, String expectedTokenizerSha256)
      throws IOException {
    return read(root, split, null, expectedTokenizerSha256, new Configuration());
  }

  /**
   * Reads one split.
   *
   * @param root the curated root folder (with {@code _SUCCESS})
   * @param split the partition value, e.g. {@code train}: files are read from {@code
   *     root/split=<split>/}
   * @param expectedTokenizerId the student's tokenizer id, for the error message only (may be null)
   * @param expectedTokenizerSha256 the student's tokenizer sha256; every record must carry it
   * @param conf Hadoop configuration (file system settings, credentials)
   * @throws DataContractException when {@code root} has no {@code _SUCCESS} (names the folder), the
   *     split folder is missing or holds no records, a file cannot be read (names the file), a
   *     record's tokenizer differs from the expected one (both ids and sha256s in the message),
   *     records mix teachers, tokenizers, temperatures, k, vocabulary sizes or codecs, or a
   *     record's soft labels do not fit its tokens
   * @throws IOException when listing the folders fails
   */
  public static CuratedDataset read(
      String root,
      String split,
      String expectedTokenizerId,
      String expectedTokenizerSha256,
      Configuration conf)
      throws IOException {
    Objects.requireNonNull(expectedTokenizerSha256, "expectedTokenizerSha256");
    Path splitPath = splitPath(root, split, conf);
    List<Path> files = dataFiles(splitPath.getFileSystem(conf), splitPath);
    Checker checker = new Checker(expectedTokenizerId, expectedTokenizerSha256);
    List<Example> examples = new ArrayList<>();
    for (Path file : files) {
      try (ParquetReader<GenericRecord> reader = open(file, conf)) {
        GenericRecord r;
        while ((r = readNext(reader, file)) != null) {
          examples.add(checker.accept(r, file));
        }
      }
    }
    Provenance first = checker.first;
    if (first == null) {
      throw new DataContractException(
          "no records in " + splitPath + " (" + files.size() + " data files)");
    }
    return new CuratedDataset(examples, first);
  }

  /**
   * The partition folder {@code root/split=<split>/}, after checking that {@code root} carries
   * {@code _SUCCESS} and the folder exists. Shared by {@link CuratedStream}.
   */
  static Path splitPath(String root, String split, Configuration conf) throws IOException {
    Objects.requireNonNull(root, "root");
    Objects.requireNonNull(split, "split");
    Path rootPath = new Path(root);
    FileSystem fs = rootPath.getFileSystem(conf);
    if (!fs.exists(new Path(rootPath, SUCCESS_MARKER))) {
      throw new DataContractException(
          "curated data folder "
              + rootPath
              + " has no "
              + SUCCESS_MARKER
              + " marker: the write did not finish (or this is not a batch output)");
    }
    Path splitPath = new Path(rootPath, "split=" + split);
    if (!fs.exists(splitPath)) {
      throw new DataContractException(
          "curated data folder " + rootPath + " has no partition folder split=" + split);
    }
    return splitPath;
  }

  /**
   * The record checks of the data contract, record by record: tokenizer sha256 against the
   * student's, codec, and the same provenance as the first record accepted. Not thread-safe: one
   * reader thread owns it.
   */
  static final class Checker {
    private final String expectedId;
    private final String expectedSha;
    private Provenance first;

    Checker(String expectedId, String expectedSha) {
      this.expectedId = expectedId;
      this.expectedSha = Objects.requireNonNull(expectedSha, "expectedTokenizerSha256");
    }

    /** Checks one record read from {@code file} and decodes it. */
    Example accept(GenericRecord r, Path file) {
      Provenance prov = Provenance.of(r, file);
      checkTokenizer(prov, expectedId, expectedSha, file);
      if (first == null) {
        first = prov;
      } else {
        first.checkSame(prov, file);
      }
      return toExample(r, prov, file);
    }
  }

  /** The examples, in file order (files sorted by path). */
  public List<Example> examples() {
    return examples;
  }

  public String teacherId() {
    return teacherId;
  }

  public String teacherSha256() {
    return teacherSha256;
  }

  public String tokenizerId() {
    return tokenizerId;
  }

  public String tokenizerSha256() {
    return tokenizerSha256;
  }

  /** The temperature the soft labels were made at. */
  public float temperature() {
    return temperature;
  }

  public int topK() {
    return topK;
  }

  public int vocabSize() {
    return vocabSize;
  }

  /** Total labelled positions over all examples. */
  public long tokens() {
    return tokens;
  }

  static List<Path> dataFiles(FileSystem fs, Path dir) throws IOException {
    List<Path> out = new ArrayList<>();
    RemoteIterator<LocatedFileStatus> it = fs.listFiles(dir, true);
    while (it.hasNext()) {
      LocatedFileStatus st = it.next();
      if (!st.isFile() || hidden(st.getPath(), dir)) {
        continue;
      }
      out.add(st.getPath());
    }
    Collections.sort(out);
    return out;
  }

  /** True when the file or a folder between {@code dir} and it starts with '_' or '.'. */
  private static boolean hidden(Path file, Path dir) {
    String stop = Path.getPathWithoutSchemeAndAuthority(dir).toString();
    for (Path p = file; p != null; p = p.getParent()) {
      if (Path.getPathWithoutSchemeAndAuthority(p).toString().equals(stop)) {
        return false;
      }
      String name = p.getName();
      if (name.startsWith("_") || name.startsWith(".")) {
        return true;
      }
    }
    return false;
  }

  private static ParquetReader<GenericRecord> open(Path file, Configuration conf) {
    try {
      return AvroParquetReader.<GenericRecord>builder(HadoopInputFile.fromPath(file, conf))
          .withConf(conf)
          .build();
    } catch (IOException | RuntimeException e) {
      throw new DataContractException(
          "cannot read Parquet file " + file + ": " + e.getMessage(), e);
    }
  }

  private static GenericRecord readNext(ParquetReader<GenericRecord> reader, Path file) {
    try {
      return reader.read();
    } catch (IOException | RuntimeException e) {
      throw new DataContractException(
          "cannot read Parquet file " + file + ": " + e.getMessage(), e);
    }
  }

  private static void checkTokenizer(
      Provenance prov, String expectedId, String expectedSha, Path file) {
    if (!expectedSha.equals(prov.tokenizerSha256)) {
      throw new DataContractException(
          "tokenizer mismatch in "
              + file
              + ": record "
              + prov.exampleId
              + " was labelled with tokenizer "
              + prov.tokenizerId
              + " (sha256 "
              + prov.tokenizerSha256
              + "), the student uses tokenizer "
              + (expectedId == null ? "(id not given)" : expectedId)
              + " (sha256 "
              + expectedSha
              + ")");
    }
  }

  private static Example toExample(GenericRecord r, Provenance prov, Path file) {
    int[] tokens = intList(field(r, "tokens", file), "tokens", prov.exampleId, file);
    Object raw = field(r, "softLabels", file);
    byte[] bytes = bytes(raw, prov.exampleId, file);
    SoftLabels labels;
    try {
      // v2 (sampled counts, N = topK) decodes to sampled labels padded to k = N, so every record
      // of a data set has the same k, as a batch needs.
      labels =
          prov.codecVersion == SampledSoftLabelCodec.VERSION
              ? SampledSoftLabelCodec.decode(bytes).toSoftLabels(prov.topK)
              : SoftLabelCodec.decode(bytes);
    } catch (CodecException | IllegalArgumentException e) {
      throw new DataContractException(
          "record " + prov.exampleId + " in " + file + ": bad soft labels: " + e.getMessage(), e);
    }
    if (labels.k() != prov.topK) {
      throw new DataContractException(
          "record "
              + prov.exampleId
              + " in "
              + file
              + ": soft labels have k="
              + labels.k()
              + " but the record says topK="
              + prov.topK);
    }
    Object w = r.get("weight");
    float weight = w == null ? 1f : ((Number) w).floatValue();
    try {
      return new Example(prov.exampleId, tokens, labels, weight);
    } catch (IllegalArgumentException e) {
      throw new DataContractException("in " + file + ": " + e.getMessage(), e);
    }
  }

  private static Object field(GenericRecord r, String name, Path file) {
    if (r.getSchema().getField(name) == null) {
      throw new DataContractException("file " + file + " has no column " + name);
    }
    Object v = r.get(name);
    if (v == null) {
      throw new DataContractException(
          "file " + file + ": column " + name + " is null in record " + r.get("exampleId"));
    }
    return v;
  }

  private static byte[] bytes(Object raw, String id, Path file) {
    if (raw instanceof ByteBuffer bb) {
      ByteBuffer dup = bb.duplicate();
      byte[] out = new byte[dup.remaining()];
      dup.get(out);
      return out;
    }
    if (raw instanceof byte[] a) {
      return a;
    }
    throw new DataContractException(
        "record " + id + " in " + file + ": softLabels is " + raw.getClass().getName());
  }

  /** An array&lt;int&gt;, whether its items come back as ints or as list-element records. */
  private static int[] intList(Object raw, String name, String id, Path file) {
    if (!(raw instanceof Collection<?> c)) {
      throw new DataContractException(
          "record " + id + " in " + file + ": column " + name + " is not a list");
    }
    int[] out = new int[c.size()];
    int i = 0;
    for (Object o : c) {
      Object v = o;
      if (v instanceof IndexedRecord rec) {
        v = rec.getSchema().getFields().size() == 1 ? rec.get(0) : null;
      }
      if (!(v instanceof Number n)) {
        throw new DataContractException(
            "record " + id + " in " + file + ": " + name + "[" + i + "] is " + o);
      }
      out[i++] = n.intValue();
    }
    return out;
  }

  /** The provenance columns of one record. */
  private static final class Provenance {
    final String exampleId;
    final String teacherId;
    final String teacherSha256;
    final String tokenizerId;
    final String tokenizerSha256;
    final int vocabSize;
    final float temperature;
    final int topK;
    final String codec;
    final int codecVersion;

    private Provenance(GenericRecord r, Path file) {
      exampleId = str(r, "exampleId", file);
      teacherId = str(r, "teacherId", file);
      teacherSha256 = str(r, "teacherSha256", file);
      tokenizerId = str(r, "tokenizerId", file);
      tokenizerSha256 = str(r, "tokenizerSha256", file);
      vocabSize = ((Number) field(r, "vocabSize", file)).intValue();
      temperature = ((Number) field(r, "temperature", file)).floatValue();
      topK = ((Number) field(r, "topK", file)).intValue();
      codec = str(r, "codec", file);
      codecVersion = ((Number) field(r, "codecVersion", file)).intValue();
      boolean known =
          (SoftLabelCodec.NAME.equals(codec) && codecVersion == SoftLabelCodec.VERSION)
              || (SampledSoftLabelCodec.NAME.equals(codec)
                  && codecVersion == SampledSoftLabelCodec.VERSION);
      if (!known) {
        throw new DataContractException(
            "record "
                + exampleId
                + " in "
                + file
                + " uses soft-label codec "
                + codec
                + " v"
                + codecVersion
                + ", this reader knows "
                + SoftLabelCodec.NAME
                + " v"
                + SoftLabelCodec.VERSION
                + " and "
                + SampledSoftLabelCodec.NAME
                + " v"
                + SampledSoftLabelCodec.VERSION);
      }
    }

    static Provenance of(GenericRecord r, Path file) {
      return new Provenance(r, file);
    }

    private static String str(GenericRecord r, String name, Path file) {
      return field(r, name, file).toString();
    }

    void checkSame(Provenance o, Path file) {
      same(
          "teacher",
          teacherId + " (sha256 " + teacherSha256 + ")",
          o.teacherId + " (sha256 " + o.teacherSha256 + ")",
          o,
          file);
      same("tokenizer id", tokenizerId, o.tokenizerId, o, file);
      same("temperature", Float.toString(temperature), Float.toString(o.temperature), o, file);
      same("topK", Integer.toString(topK), Integer.toString(o.topK), o, file);
      same("vocabSize", Integer.toString(vocabSize), Integer.toString(o.vocabSize), o, file);
      same("codec", codec + " v" + codecVersion, o.codec + " v" + o.codecVersion, o, file);
    }

    private void same(String what, String mine, String theirs, Provenance o, Path file) {
      if (!mine.equals(theirs)) {
        throw new DataContractException(
            "curated records mix "
                + what
                + ": record "
                + exampleId
                + " has "
                + mine
                + ", record "
                + o.exampleId
                + " in "
                + file
                + " has "
                + theirs);
      }
    }
  }
}
