package dev.distill.teacher.labeling;

import dev.distill.schemas.avro.TeacherOutput;
import java.io.IOException;
import java.util.List;

/** Where teacher outputs go: a Kafka topic, Parquet files, or several at once. */
public interface OutputSink extends AutoCloseable {
  /** Accepts one batch; when this returns, the batch is durable (or part of a pending commit). */
  void write(List<TeacherOutput> batch) throws IOException;

  /** Makes everything written so far visible to readers, atomically where the sink can. */
  void commit() throws IOException;

  @Override
  void close() throws IOException;
}
