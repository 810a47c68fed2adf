package dev.distill.teacher.kafka;

import dev.distill.schemas.avro.Prompt;
import dev.distill.schemas.avro.Rationale;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.encoding.SingleObjectEncoding;
import dev.distill.teacher.inference.RetryPolicy;
import dev.distill.teacher.inference.TeacherException;
import dev.distill.teacher.labeling.PromptLabeler;
import dev.distill.teacher.labeling.PromptLabeler.Outcome;
import dev.distill.teacher.labeling.PromptLabeler.Prepared;
import dev.distill.teacher.labeling.PromptLabeler.Reason;
import dev.distill.teacher.labeling.PromptLabeler.Rejection;
import dev.distill.teacher.service.TeacherMetrics;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Service mode: consume-transform-produce from the prompts topic to the outputs topic, exactly
 * once.
 *
 * <p>Each batch (prompts polled until the token budget is reached or {@code maxWait} passed since
 * the first) is one Kafka transaction holding its outputs (every chunk of every prompt), its DLQ
 * records and the consumer offsets ({@code sendOffsetsToTransaction} with the consumer's group
 * metadata, KIP-447). A crash before the commit leaves none of it visible to {@code read_committed}
 * readers and the offsets uncommitted, so the batch is redone by whichever instance owns the
 * partitions next; a crash after leaves all of it. A zombie instance is fenced by the group
 * generation.
 *
 * <p>Prompts that cannot be served go to the DLQ topic with the original bytes as value and headers
 * {@value #REASON_HEADER} (a {@link Reason}), {@value #DETAIL_HEADER} and {@value #SOURCE_HEADER};
 * the loop goes on. A teacher failure is retried with exponential backoff and jitter, first for the
 * batch, then prompt by prompt; a prompt that still fails goes to the DLQ as {@code
 * TEACHER_FAILED}.
 */
public final class PromptServiceLoop implements Runnable {
  public static final String REASON_HEADER = "distill.dlq.reason";
  public static final String DETAIL_HEADER = "distill.dlq.detail";
  public static final String SOURCE_HEADER = "distill.dlq.source";

  /** Most (run, prompt) ids one instance remembers to tell a retry from a conflict. */
  static final int SEEN_IDS = 100_000;

  private static final Logger LOG = LoggerFactory.getLogger(PromptServiceLoop.class);

  private final ServiceConfig config;
  private final PromptLabeler labeler;
  private final TeacherMetrics metrics;
  private final KafkaConsumer<String, byte[]> consumer;
  private final KafkaProducer<String, byte[]> producer;
  private final List<ConsumerRecord<String, byte[]>> pending = new ArrayList<>();

  /** Ids seen by this instance: a repeat with the same content is a retry, else DUPLICATE_ID. */
  private final SeenPrompts seen = new SeenPrompts(SEEN_IDS);

  private volatile boolean running = true;
  private volatile long committedPrompts;
  private volatile long transactions;
  private volatile int assigned;

  public PromptServiceLoop(ServiceConfig config, PromptLabeler labeler, TeacherMetrics metrics) {
    this.config = config;
    this.labeler = labeler;
    this.metrics = metrics;
    Properties c = new Properties();
    c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
    c.put(ConsumerConfig.GROUP_ID_CONFIG, config.groupId());
    c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    c.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "256");
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
    p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, config.transactionalId());
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "zstd");
    p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    for (Map.Entry<String, String> e : config.clientOverrides().entrySet()) {
      // consumer.* / producer.* go to one client; anything else to both.
      if (e.getKey().startsWith("consumer.")) {
        c.put(e.getKey().substring(9), e.getValue());
      } else if (e.getKey().startsWith("producer.")) {
        p.put(e.getKey().substring(9), e.getValue());
      } else {
        c.put(e.getKey(), e.getValue());
        p.put(e.getKey(), e.getValue());
      }
    }
    this.consumer = new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer());
    this.producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
  }

  /** Asks the loop to stop after the current batch; safe from any thread (a shutdown hook). */
  public void requestStop() {
    running = false;
    consumer.wakeup();
  }

  /** Prompts whose outputs (or DLQ records) were committed by this instance. */
  public long committedPrompts() {
    return committedPrompts;
  }

  /** Partitions this instance owns now. */
  public int assignedPartitions() {
    return assigned;
  }

  public long transactions() {
    return transactions;
  }

  @Override
  public void run() {
    try {
      producer.initTransactions();
      consumer.subscribe(
          List.of(config.promptsTopic()),
          new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> revoked) {
              // Not yet in a transaction: the next owner starts from the committed offsets.
              pending.removeIf(r -> revoked.contains(new TopicPartition(r.topic(), r.partition())));
              assigned = consumer.assignment().size() - revoked.size();
            }

            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> added) {
              assigned = consumer.assignment().size();
            }
          });
      LOG.info("service loop started: {}", config);
      while (running) {
        fill();
        if (!pending.isEmpty()) {
          List<ConsumerRecord<String, byte[]>> batch = new ArrayList<>(pending);
          pending.clear();
          process(batch);
        }
      }
    } catch (WakeupException e) {
      if (running) {
        throw e;
      }
    } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
      LOG.error("fatal producer error; this instance stops", e);
      throw e;
    } finally {
      LOG.info("service loop stopping after {} committed prompts", committedPrompts);
      producer.close(Duration.ofSeconds(5));
      consumer.close(Duration.ofSeconds(5));
    }
  }

  /** Polls until the token budget is reached or maxWait has passed since the first record. */
  private void fill() {
    long tokens = 0;
    long deadline = Long.MAX_VALUE;
    while (running) {
      long now = System.nanoTime();
      long left = deadline == Long.MAX_VALUE ? 200 : (deadline - now) / 1_000_000;
      if (deadline != Long.MAX_VALUE && left <= 0) {
        return;
      }
      for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(Math.max(1, left)))) {
        pending.add(r);
        // Serialised size approximates tokens for a char tokenizer and over-counts for BPE.
        tokens += r.value() == null ? 0 : r.value().length;
      }
      if (pending.isEmpty()) {
        return;
      }
      if (deadline == Long.MAX_VALUE) {
        deadline = now + config.maxWait().toNanos();
      }
      if (tokens >= config.tokenBudget()) {
        return;
      }
    }
  }

  /** topic-partition@offset */
  private static String where(ConsumerRecord<?, ?> r) {
    return r.topic() + "-" + r.partition() + "@" + r.offset();
  }

  private record DeadLetter(ConsumerRecord<String, byte[]> source, Rejection why) {}

  private void process(List<ConsumerRecord<String, byte[]>> batch) {
    List<Prepared> ok = new ArrayList<>();
    List<ConsumerRecord<String, byte[]>> okSources = new ArrayList<>();
    List<DeadLetter> dead = new ArrayList<>();
    for (ConsumerRecord<String, byte[]> r : batch) {
      Prompt prompt;
      try {
        prompt = SingleObjectEncoding.decodePrompt(r.value());
      } catch (RuntimeException e) {
        dead.add(new DeadLetter(r, new Rejection(Reason.UNDECODABLE, e.getMessage())));
        continue;
      }
      SeenPrompts.First first = seen.check(prompt, where(r));
      if (first != null) {
        dead.add(
            new DeadLetter(
                r,
                new Rejection(
                    Reason.DUPLICATE_ID,
                    "prompt_id "
                        + prompt.getPromptId()
                        + " of run "
                        + prompt.getRunId()
                        + " was seen at "
                        + first.source()
                        + " with a different content; give each prompt its own id")));
        continue;
      }
      Outcome o = labeler.prepare(prompt);
      if (o instanceof Rejection rej) {
        dead.add(new DeadLetter(r, rej));
      } else {
        ok.add((Prepared) o);
        okSources.add(r);
      }
    }
    List<TeacherOutput> outputs = new ArrayList<>();
    List<List<TeacherOutput>> labelled = labelWithRetries(ok);
    if (labelled != null) {
      labelled.forEach(outputs::addAll);
    } else {
      // The batch failed after retries: find the prompts that fail on their own.
      for (int i = 0; i < ok.size(); i++) {
        List<List<TeacherOutput>> one = labelWithRetries(List.of(ok.get(i)));
        if (one != null) {
          outputs.addAll(one.get(0));
        } else {
          dead.add(
              new DeadLetter(
                  okSources.get(i),
                  new Rejection(
                      Reason.TEACHER_FAILED,
                      "teacher failed after " + config.retries() + " retries")));
        }
      }
    }
    commit(batch, outputs, dead);
  }

  /** Labels, retrying with exponential backoff and jitter; null when every try failed. */
  private List<List<TeacherOutput>> labelWithRetries(List<Prepared> prepared) {
    if (prepared.isEmpty()) {
      return List.of();
    }
    try {
      return new RetryPolicy(config.retries(), config.backoff())
          .run(
              () -> {
                long start = System.nanoTime();
                List<List<TeacherOutput>> out = labeler.label(prepared);
                long positions = 0;
                long tokens = 0;
                for (Prepared p : prepared) {
                  positions += p.tokens().length - 1;
                  tokens += p.tokens().length;
                }
                metrics.batch(prepared.size(), tokens, positions, System.nanoTime() - start);
                return out;
              },
              () -> running);
    } catch (TeacherException e) {
      LOG.warn("teacher failed on {} prompts: {}", prepared.size(), e.getMessage());
      return null;
    }
  }

  private void commit(
      List<ConsumerRecord<String, byte[]>> batch,
      List<TeacherOutput> outputs,
      List<DeadLetter> dead) {
    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
    Map<TopicPartition, Long> first = new HashMap<>();
    for (ConsumerRecord<String, byte[]> r : batch) {
      TopicPartition tp = new TopicPartition(r.topic(), r.partition());
      offsets.merge(
          tp, new OffsetAndMetadata(r.offset() + 1), (a, b) -> a.offset() >= b.offset() ? a : b);
      first.merge(tp, r.offset(), Math::min);
    }
    try {
      producer.beginTransaction();
      for (TeacherOutput o : outputs) {
        producer.send(
            new ProducerRecord<>(
                config.outputsTopic(), o.getRecordId(), SingleObjectEncoding.encode(o)));
      }
      for (DeadLetter d : dead) {
        ProducerRecord<String, byte[]> r =
            new ProducerRecord<>(config.dlqTopic(), d.source().key(), d.source().value());
        r.headers().add(new RecordHeader(REASON_HEADER, bytes(d.why().reason().name())));
        r.headers().add(new RecordHeader(DETAIL_HEADER, bytes(String.valueOf(d.why().detail()))));
        r.headers().add(new RecordHeader(SOURCE_HEADER, bytes(where(d.source()))));
        producer.send(r);
      }
      producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
      producer.commitTransaction();
      transactions++;
      committedPrompts += batch.size();
      metrics.outputs(outputs.size());
      long rationales = 0;
      long answered = 0;
      for (TeacherOutput o : outputs) {
        for (Rationale r : o.getRationales()) {
          rationales++;
          answered += r.getAnswer() != null ? 1 : 0;
        }
      }
      metrics.rationales(rationales, answered);
      for (DeadLetter d : dead) {
        metrics.deadLettered(d.why().reason().name());
        LOG.warn("dead-lettered {}: {}", d.why().reason(), d.why().detail());
      }
    } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
      throw e;
    } catch (KafkaException e) {
      LOG.warn("transaction aborted, the batch will be redone: {}", e.toString());
      try {
        producer.abortTransaction();
      } catch (KafkaException ignored) {
        // A fatal state surfaces on the next beginTransaction.
      }
      // Rewind to the batch's first offsets so nothing is skipped (partitions still ours only).
      for (Map.Entry<TopicPartition, Long> e2 : first.entrySet()) {
        if (consumer.assignment().contains(e2.getKey())) {
          consumer.seek(e2.getKey(), e2.getValue());
        }
      }
    }
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
