package dev.distill.teacher.kafka;

import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.encoding.SingleObjectEncoding;
import dev.distill.teacher.labeling.OutputSink;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Sends teacher outputs to a topic: key = record id, value = Avro single-object encoding.
 *
 * <p>The producer is idempotent (acks=all, retries bounded by delivery.timeout.ms). With a
 * transactional id, each {@link #write} batch and everything before the next {@link #commit} is one
 * transaction, so a {@code read_committed} consumer sees all of it or none of it. Fatal producer
 * errors (fenced, authorization, out-of-order sequence) abort and are rethrown; everything else
 * from Kafka is retried by the client before it reaches us.
 */
public final class KafkaOutputSink implements OutputSink {
  private final KafkaProducer<String, byte[]> producer;
  private final String topic;
  private final boolean transactional;
  private final List<Future<RecordMetadata>> pending = new ArrayList<>();
  private boolean inTransaction;
  private long sent;

  /**
   * @param bootstrapServers the brokers
   * @param topic where records go
   * @param transactionalId null for idempotent-only sends
   * @param clientOverrides extra producer properties (security settings pass through here)
   */
  public KafkaOutputSink(
      String bootstrapServers,
      String topic,
      String transactionalId,
      Map<String, String> clientOverrides) {
    Properties props = new Properties();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    props.put(ProducerConfig.ACKS_CONFIG, "all");
    props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "zstd");
    props.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    if (transactionalId != null) {
      props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
    }
    props.putAll(clientOverrides);
    this.producer = new KafkaProducer<>(props);
    this.topic = topic;
    this.transactional = transactionalId != null;
    if (transactional) {
      producer.initTransactions();
    }
  }

  @Override
  public void write(List<TeacherOutput> batch) throws IOException {
    try {
      if (transactional && !inTransaction) {
        producer.beginTransaction();
        inTransaction = true;
      }
      for (TeacherOutput r : batch) {
        pending.add(
            producer.send(
                new ProducerRecord<>(topic, r.getRecordId(), SingleObjectEncoding.encode(r))));
      }
    } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
      throw new IOException("fatal Kafka producer error on topic " + topic, e);
    } catch (KafkaException e) {
      abortQuietly();
      throw new IOException("send to topic " + topic + " failed; transaction aborted", e);
    }
  }

  @Override
  public void commit() throws IOException {
    try {
      if (transactional) {
        if (inTransaction) {
          producer.commitTransaction();
          inTransaction = false;
        }
      } else {
        producer.flush();
      }
      for (Future<RecordMetadata> f : pending) {
        f.get();
      }
      sent += pending.size();
      pending.clear();
    } catch (ExecutionException e) {
      throw new IOException("a record to " + topic + " was not acknowledged", e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while committing to " + topic, e);
    } catch (KafkaException e) {
      abortQuietly();
      throw new IOException("commit to topic " + topic + " failed; transaction aborted", e);
    }
  }

  /** Records acknowledged by the broker so far. */
  public long sent() {
    return sent;
  }

  private void abortQuietly() {
    if (transactional && inTransaction) {
      try {
        producer.abortTransaction();
      } catch (KafkaException ignored) {
        // The producer is unusable after a fatal error; close() below releases it.
      }
      inTransaction = false;
    }
  }

  @Override
  public void close() {
    abortQuietly();
    producer.close();
  }
}
