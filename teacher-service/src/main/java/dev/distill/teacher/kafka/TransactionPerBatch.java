package dev.distill.teacher.kafka;

import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.teacher.labeling.OutputSink;
import java.io.IOException;
import java.util.List;

/**
 * Commits a transactional {@link KafkaOutputSink} after every {@link #write}: one Kafka transaction
 * per teacher batch of a batch run ({@code labeling.BatchRun} hands over whole prompts, every chunk
 * of a prompt in the same write, so a {@code read_committed} reader never sees part of a prompt).
 *
 * <p>Why not one transaction for the whole run: a run of a day's prompts takes far longer than the
 * broker's {@code transaction.max.timeout.ms} (15 min by default), after which the coordinator
 * aborts the transaction. A run that fails half-way leaves its committed batches; its re-run
 * produces them again, and the duplicates (same record id, same tokens) are removed downstream by
 * CurateJob's exact deduplication (REFERENCE.md: keep dedupe by record id even with exactly-once
 * producers).
 */
public final class TransactionPerBatch implements OutputSink {
  private final KafkaOutputSink kafka;

  public TransactionPerBatch(KafkaOutputSink kafka) {
    this.kafka = kafka;
  }

  @Override
  public void write(List<TeacherOutput> batch) throws IOException {
    kafka.write(batch);
    kafka.commit();
  }

  @Override
  public void commit() throws IOException {
    kafka.commit(); // nothing pending: every write committed its own transaction
  }

  /** Records the broker acknowledged, all in committed transactions. */
  public long sent() {
    return kafka.sent();
  }

  @Override
  public void close() {
    kafka.close();
  }
}
