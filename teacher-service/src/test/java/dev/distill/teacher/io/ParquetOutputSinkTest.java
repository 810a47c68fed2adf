package dev.distill.teacher.io;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.schemas.TestRecords;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.teacher.TestOutputs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.avro.generic.GenericRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ParquetOutputSinkTest {
  @TempDir Path tmp;

  private static List<TeacherOutput> records(int n) {
    List<TeacherOutput> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(TestRecords.teacherOutput("r" + i, 5));
    }
    return out;
  }

  @Test
  void commitPublishesEveryRecordWithSuccessMarkerInRollingFiles() throws IOException {
    Path target = tmp.resolve("out");
    try (ParquetOutputSink sink = new ParquetOutputSink(target.toString(), 4)) {
      sink.write(records(6));
      sink.write(records(4));
      sink.commit();
    }
    assertThat(target.resolve("_SUCCESS")).exists();
    try (Stream<Path> files = Files.list(target)) {
      assertThat(files.filter(p -> p.toString().endsWith(".parquet")).count()).isEqualTo(3);
    }
    List<GenericRecord> back = TestOutputs.readAll(target);
    assertThat(back).hasSize(10);
    assertThat(back.get(0).get("recordId").toString()).isEqualTo("r0");
    assertThat((List<?>) back.get(0).get("tokens")).hasSize(6);
  }

  @Test
  void rerunningTheSameTargetReplacesInsteadOfAppending() throws IOException {
    Path target = tmp.resolve("out");
    for (int run = 0; run < 2; run++) {
      try (ParquetOutputSink sink = new ParquetOutputSink(target.toString(), 100)) {
        sink.write(records(3));
        sink.commit();
      }
    }
    assertThat(TestOutputs.readAll(target)).hasSize(3);
  }

  @Test
  void closingWithoutCommitPublishesNothingAndLeavesNoStaging() throws IOException {
    Path target = tmp.resolve("out");
    try (ParquetOutputSink sink = new ParquetOutputSink(target.toString(), 100)) {
      sink.write(records(3));
    }
    assertThat(target).doesNotExist();
    try (Stream<Path> files = Files.list(tmp)) {
      assertThat(files.toList()).isEmpty();
    }
  }
}
