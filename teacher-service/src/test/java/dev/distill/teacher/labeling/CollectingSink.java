package dev.distill.teacher.labeling;

import dev.distill.schemas.avro.TeacherOutput;
import java.util.ArrayList;
import java.util.List;

/** Collects batches in memory and counts commits (a test double of our own sink interface). */
final class CollectingSink implements OutputSink {
  final List<TeacherOutput> records = new ArrayList<>();
  int commits;

  @Override
  public void write(List<TeacherOutput> batch) {
    records.addAll(batch);
  }

  @Override
  public void commit() {
    commits++;
  }

  @Override
  public void close() {}
}
