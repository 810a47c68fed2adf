package dev.distill.teacher.io;

import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.teacher.labeling.OutputSink;
import java.io.IOException;
import java.util.List;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.avro.AvroParquetWriter;
import org.apache.parquet.avro.AvroWriteSupport;
import org.apache.parquet.hadoop.ParquetFileWriter;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.hadoop.util.HadoopOutputFile;

/**
 * Writes teacher outputs as Parquet files (zstd, 3-level lists like Spark's) into a folder on any
 * Hadoop filesystem, rolling to a new file every {@code recordsPerFile} records.
 *
 * <p>Files are written into a hidden staging folder beside the target; {@link #commit} replaces the
 * target folder with it and adds {@code _SUCCESS}. Re-running the same run id therefore replaces
 * its outputs and never appends a second copy; readers never see a half-written folder.
 */
public final class ParquetOutputSink implements OutputSink {
  private final Configuration conf;
  private final Path target;
  private final Path staging;
  private final int recordsPerFile;
  private final FileSystem fs;
  private ParquetWriter<TeacherOutput> writer;
  private int fileIndex;
  private int inFile;

  public ParquetOutputSink(String targetDir, int recordsPerFile) throws IOException {
    if (recordsPerFile < 1) {
      throw new IllegalArgumentException("recordsPerFile must be >= 1");
    }
    this.conf = new Configuration();
    // Spark reads and writes 3-level lists; the Avro writer's default is the old 2-level form.
    conf.setBoolean(AvroWriteSupport.WRITE_OLD_LIST_STRUCTURE, false);
    this.target = new Path(targetDir);
    this.fs = target.getFileSystem(conf);
    this.staging =
        new Path(target.getParent(), "._staging-" + target.getName() + "-" + UUID.randomUUID());
    this.recordsPerFile = recordsPerFile;
    fs.mkdirs(staging);
  }

  @Override
  public void write(List<TeacherOutput> batch) throws IOException {
    for (TeacherOutput r : batch) {
      if (writer == null || inFile >= recordsPerFile) {
        roll();
      }
      writer.write(r);
      inFile++;
    }
  }

  private void roll() throws IOException {
    if (writer != null) {
      writer.close();
    }
    Path file = new Path(staging, String.format("part-%05d.zstd.parquet", fileIndex++));
    writer =
        AvroParquetWriter.<TeacherOutput>builder(HadoopOutputFile.fromPath(file, conf))
            .withSchema(TeacherOutput.getClassSchema())
            .withConf(conf)
            .withCompressionCodec(CompressionCodecName.ZSTD)
            .withWriteMode(ParquetFileWriter.Mode.CREATE)
            .build();
    inFile = 0;
  }

  @Override
  public void commit() throws IOException {
    if (writer != null) {
      writer.close();
      writer = null;
    }
    fs.create(new Path(staging, "_SUCCESS"), true).close();
    if (fs.exists(target) && !fs.delete(target, true)) {
      throw new IOException("cannot replace " + target);
    }
    if (!fs.rename(staging, target)) {
      throw new IOException("cannot move " + staging + " to " + target);
    }
  }

  /**
   * Writes a small side file (the run's config, its rejects) into the folder being committed, so it
   * is published and replaced together with the data.
   */
  public void writeSideFile(String name, byte[] content) throws IOException {
    // Readers (Spark, Parquet) skip files whose names start with '_'.
    if (!name.startsWith("_") || name.equals("_SUCCESS") || name.contains("/")) {
      throw new IllegalArgumentException("side files are named _<name>, not " + name);
    }
    try (var out = fs.create(new Path(staging, name), true)) {
      out.write(content);
    }
  }

  /** The folder readers use. */
  public String target() {
    return target.toString();
  }

  @Override
  public void close() throws IOException {
    if (writer != null) {
      writer.close();
      writer = null;
    }
    if (fs.exists(staging)) {
      fs.delete(staging, true);
    }
  }
}
