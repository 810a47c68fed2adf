package dev.distill.teacher.labeling;

import dev.distill.schemas.avro.TeacherOutput;
import java.io.IOException;
import java.util.List;

/** Writes every batch to several sinks, e.g. Kafka and Parquet in the embedded default. */
public final class TeeSink implements OutputSink {
  private final List<OutputSink> sinks;

  public TeeSink(List<OutputSink> sinks) {
    this.sinks = List.copyOf(sinks);
  }

  @Override
  public void write(List<TeacherOutput> batch) throws IOException {
    for (OutputSink s : sinks) {
      s.write(batch);
    }
  }

  @Override
  public void commit() throws IOException {
    for (OutputSink s : sinks) {
      s.commit();
    }
  }

  @Override
  public void close() throws IOException {
    IOException first = null;
    for (OutputSink s : sinks) {
      try {
        s.close();
      } catch (IOException e) {
        if (first == null) {
          first = e;
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
