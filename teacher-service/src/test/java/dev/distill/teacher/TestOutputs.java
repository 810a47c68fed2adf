package dev.distill.teacher;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.avro.generic.GenericRecord;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.avro.AvroParquetReader;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.util.HadoopInputFile;

/**
 * Reads what a labelling run wrote, for tests here and in {@code deploy} (through this module's
 * test-jar): one reader instead of a copy in every test that checks Parquet output.
 */
public final class TestOutputs {
  private TestOutputs() {}

  /** Every record of the {@code .parquet} files directly in {@code dir}, files in name order. */
  public static List<GenericRecord> readAll(Path dir) throws IOException {
    List<GenericRecord> out = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".parquet")).sorted().toList()) {
        try (ParquetReader<GenericRecord> r =
            AvroParquetReader.<GenericRecord>builder(
                    HadoopInputFile.fromPath(
                        new org.apache.hadoop.fs.Path(f.toString()), new Configuration()))
                .build()) {
          for (GenericRecord g = r.read(); g != null; g = r.read()) {
            out.add(g);
          }
        }
      }
    }
    return out;
  }

  /** {@code teacherId@teacherSha256} of a record's provenance. */
  public static String teacherIdentity(GenericRecord record) {
    GenericRecord prov = (GenericRecord) record.get("provenance");
    return prov.get("teacherId") + "@" + prov.get("teacherSha256");
  }
}
