package dev.distill.teacher.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import dev.distill.schemas.avro.Prompt;
import dev.distill.schemas.avro.Rationale;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.schemas.encoding.SingleObjectEncoding;
import dev.distill.teacher.TestTeachers;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.LocalTeacher;
import dev.distill.teacher.inference.RationaleConfig;
import dev.distill.teacher.inference.SoftLabeler;
import dev.distill.teacher.labeling.PromptLabeler;
import dev.distill.teacher.service.TeacherMetrics;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import kafka.testkit.KafkaClusterTestKit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Service mode against a real single-node KRaft broker (one per class) and a real DJL teacher. */
class PromptServiceLoopIT {
  static final int BLOCK = 16;
  static KafkaClusterTestKit cluster;
  static LocalTeacher teacher;

  @BeforeAll
  static void start() throws Exception {
    cluster = TestBroker.startForService(Map.of());
    teacher = TestTeachers.tiny(BLOCK, 4, 2f);
  }

  @AfterAll
  static void stop() throws Exception {
    teacher.close();
    cluster.close();
  }

  static ServiceConfig config(String prefix, String txId) {
    return new ServiceConfig(
        cluster.bootstrapServers(),
        prefix + "-group",
        txId,
        prefix + ".prompts",
        prefix + ".outputs",
        prefix + ".dlq",
        256,
        Duration.ofMillis(20),
        BLOCK,
        100,
        2,
        Duration.ofMillis(10),
        Map.of("consumer.session.timeout.ms", "6000", "producer.transaction.timeout.ms", "10000"));
  }

  static void topics(String prefix, int partitions) {
    Topics.ensure(cluster.bootstrapServers(), Map.of(), prefix + ".prompts", partitions, (short) 1);
    Topics.ensure(cluster.bootstrapServers(), Map.of(), prefix + ".outputs", partitions, (short) 1);
    Topics.ensure(cluster.bootstrapServers(), Map.of(), prefix + ".dlq", 1, (short) 1);
  }

  /** Random texts of 2..70 characters (1 to 5 chunks of 16 positions). */
  static Map<String, String> texts(String prefix, int n, long seed) {
    Random rng = new Random(seed);
    Map<String, String> out = new TreeMap<>();
    for (int i = 0; i < n; i++) {
      StringBuilder sb = new StringBuilder();
      int len = 2 + rng.nextInt(69);
      for (int j = 0; j < len; j++) {
        sb.append(TestTeachers.ALPHABET.charAt(rng.nextInt(TestTeachers.ALPHABET.length())));
      }
      out.put(prefix + "-" + i, sb.toString());
    }
    return out;
  }

  static byte[] prompt(String id, String text) {
    return SingleObjectEncoding.encode(promptOf(id, text).build());
  }

  /** A prompt of run {@code run-1} from source {@code it}. */
  static Prompt.Builder promptOf(String id, String text) {
    return Prompt.newBuilder().setPromptId(id).setRunId("run-1").setSource("it").setText(text);
  }

  static void produce(String topic, Map<String, byte[]> records) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrapServers());
    try (KafkaProducer<String, byte[]> producer =
        new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer())) {
      records.forEach((k, v) -> producer.send(new ProducerRecord<>(topic, k, v)));
      producer.flush();
    }
  }

  static int expectedChunks(Map<String, String> texts) {
    int n = 0;
    for (String t : texts.values()) {
      n += (t.length() - 1 + BLOCK - 1) / BLOCK;
    }
    return n;
  }

  static List<ConsumerRecord<String, byte[]>> readCommitted(
      String topic, int expect, Duration timeout) {
    return readCommitted(cluster.bootstrapServers(), topic, expect, timeout);
  }

  static List<ConsumerRecord<String, byte[]>> readCommitted(
      String bootstrap, String topic, int expect, Duration timeout) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "reader-" + System.nanoTime());
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> c =
        new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
      c.subscribe(List.of(topic));
      long deadline = System.nanoTime() + timeout.toNanos();
      int quiet = 0;
      while (System.nanoTime() < deadline && (out.size() < expect || quiet < 2)) {
        var polled = c.poll(Duration.ofMillis(500));
        quiet = polled.isEmpty() ? quiet + 1 : 0;
        polled.forEach(out::add);
      }
    }
    return out;
  }

  /** Asserts every prompt's chunks arrived exactly once and reassemble to its tokens. */
  static void assertExactlyOnce(
      Map<String, String> texts, List<ConsumerRecord<String, byte[]>> out) {
    assertExactlyOnce(teacher, texts, out);
  }

  static void assertExactlyOnce(
      LocalTeacher teacher, Map<String, String> texts, List<ConsumerRecord<String, byte[]>> out) {
    Map<String, Map<Integer, TeacherOutput>> byPrompt = new HashMap<>();
    for (ConsumerRecord<String, byte[]> r : out) {
      TeacherOutput t = SingleObjectEncoding.decodeTeacherOutput(r.value());
      assertThat(r.key()).isEqualTo(t.getRecordId().toString());
      TeacherOutput dup =
          byPrompt
              .computeIfAbsent(t.getPromptId().toString(), k -> new TreeMap<>())
              .put(t.getChunkIndex(), t);
      assertThat(dup).as("duplicate chunk %s/%d", t.getPromptId(), t.getChunkIndex()).isNull();
    }
    assertThat(byPrompt.keySet()).containsExactlyInAnyOrderElementsOf(texts.keySet());
    for (Map.Entry<String, String> e : texts.entrySet()) {
      Map<Integer, TeacherOutput> chunks = byPrompt.get(e.getKey());
      int count = chunks.values().iterator().next().getChunkCount();
      assertThat(chunks.keySet()).hasSize(count);
      List<Integer> tokens = new ArrayList<>();
      String recordId = null;
      for (TeacherOutput c : chunks.values()) {
        SoftLabels l = SoftLabelCodec.decode(c.getSoftLabels().array());
        assertThat(l.positions()).isEqualTo(c.getTokens().size() - 1).isLessThanOrEqualTo(BLOCK);
        if (!tokens.isEmpty()) {
          // Consecutive chunks share their boundary token (ChunkReassembly's convention).
          assertThat(c.getTokens().get(0)).isEqualTo(tokens.get(tokens.size() - 1));
          tokens.addAll(c.getTokens().subList(1, c.getTokens().size()));
        } else {
          tokens.addAll(c.getTokens());
        }
        recordId = recordId == null ? c.getRecordId().toString() : recordId;
        assertThat(c.getRecordId().toString()).isEqualTo(recordId);
      }
      int[] expected = teacher.encode(e.getValue());
      assertThat(tokens)
          .containsExactlyElementsOf(java.util.Arrays.stream(expected).boxed().toList());
    }
  }

  /** What a loop wrote before it was stopped, and its metrics. */
  record Ran(
      List<ConsumerRecord<String, byte[]>> out,
      List<ConsumerRecord<String, byte[]>> dlq,
      TeacherMetrics metrics) {}

  /**
   * Runs a loop until the outputs topic holds every chunk of {@code texts} and the DLQ {@code
   * deadLetters} records, then stops it.
   */
  static Ran runUntilDone(
      String prefix, String txId, PromptLabeler labeler, Map<String, String> texts, int deadLetters)
      throws Exception {
    TeacherMetrics metrics = new TeacherMetrics();
    PromptServiceLoop loop = new PromptServiceLoop(config(prefix, txId), labeler, metrics);
    Thread thread = start(loop);
    List<ConsumerRecord<String, byte[]>> out =
        readCommitted(prefix + ".outputs", expectedChunks(texts), Duration.ofSeconds(60));
    List<ConsumerRecord<String, byte[]>> dlq =
        readCommitted(prefix + ".dlq", deadLetters, Duration.ofSeconds(30));
    loop.requestStop();
    thread.join(20_000);
    assertThat(thread.isAlive()).isFalse();
    return new Ran(out, dlq, metrics);
  }

  static Thread start(PromptServiceLoop loop) {
    Thread t = new Thread(loop, "service-loop");
    t.start();
    return t;
  }

  /** Each dead letter's key and its reason header. */
  static Map<String, String> reasons(List<ConsumerRecord<String, byte[]>> dlq) {
    Map<String, String> reasons = new TreeMap<>();
    for (ConsumerRecord<String, byte[]> r : dlq) {
      reasons.put(
          r.key(),
          new String(
              r.headers().lastHeader(PromptServiceLoop.REASON_HEADER).value(),
              StandardCharsets.UTF_8));
    }
    return reasons;
  }

  @Test
  void everyPromptIsLabelledExactlyOnceInChunksAndUnservablePromptsGoToTheDlqWithReasons()
      throws Exception {
    String prefix = "single";
    topics(prefix, 3);
    Map<String, String> texts = texts(prefix, 40, 1);
    Map<String, byte[]> records = new TreeMap<>();
    texts.forEach((id, text) -> records.put(id, prompt(id, text)));
    records.put("bad-char", prompt("bad-char", "hello #world"));
    records.put("too-long", prompt("too-long", "a".repeat(101)));
    records.put("garbage", "not avro at all".getBytes(StandardCharsets.UTF_8));
    records.put("bad-utf8", prompt("bad-utf8", "abc\uFFFDdef"));
    records.put("short", prompt("short", "a"));
    produce(prefix + ".prompts", records);
    // A different text under a seen id, after the first on the same partition (same key).
    String dupId = texts.keySet().iterator().next();
    byte[] dup = prompt(dupId, "a different text under a seen id");
    produce(prefix + ".prompts", Map.of(dupId, dup));

    Ran ran = runUntilDone(prefix, "single-tx-1", new PromptLabeler(teacher, BLOCK, 100), texts, 6);
    List<ConsumerRecord<String, byte[]>> out = ran.out();
    List<ConsumerRecord<String, byte[]>> dlq = ran.dlq();
    TeacherMetrics metrics = ran.metrics();

    assertThat(out).hasSize(expectedChunks(texts));
    assertExactlyOnce(texts, out);
    Map<String, String> reasons = reasons(dlq);
    for (ConsumerRecord<String, byte[]> r : dlq) {
      assertThat(r.headers().lastHeader(PromptServiceLoop.DETAIL_HEADER)).isNotNull();
      assertThat(r.value()).isEqualTo(r.key().equals(dupId) ? dup : records.get(r.key()));
      if (r.key().equals(dupId)) {
        // The detail names where the id was first seen.
        assertThat(
                new String(
                    r.headers().lastHeader(PromptServiceLoop.DETAIL_HEADER).value(),
                    StandardCharsets.UTF_8))
            .contains(dupId)
            .contains(prefix + ".prompts-");
      }
    }
    assertThat(reasons)
        .containsExactlyInAnyOrderEntriesOf(
            Map.of(
                "bad-char",
                "UNTOKENIZABLE",
                "too-long",
                "OVER_LENGTH",
                "garbage",
                "UNDECODABLE",
                "bad-utf8",
                "BAD_UTF8",
                "short",
                "TOO_SHORT",
                dupId,
                "DUPLICATE_ID"));
    assertThat(metrics.deadLetteredCount("OVER_LENGTH")).isEqualTo(1);

    // The first chunk of a prompt carries the exact labels of its window.
    TeacherOutput first = SingleObjectEncoding.decodeTeacherOutput(out.get(0).value());
    int[] window = first.getTokens().stream().mapToInt(Integer::intValue).toArray();
    SoftLabels direct =
        new SoftLabeler(teacher.model(), new LabelingConfig(4, 2f, 1))
            .label(List.of(window))
            .get(0)
            .labels();
    SoftLabels sent = SoftLabelCodec.decode(first.getSoftLabels().array());
    for (int p = 0; p < direct.positions(); p++) {
      assertThat(sent.top1(p)).isEqualTo(direct.top1(p));
    }

    // The offsets were committed with the outputs: the group is at the end of every partition.
    try (Admin admin =
        Admin.create(Map.of("bootstrap.servers", (Object) cluster.bootstrapServers()))) {
      Map<TopicPartition, OffsetAndMetadata> committed =
          admin.listConsumerGroupOffsets(prefix + "-group").partitionsToOffsetAndMetadata().get();
      Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
      committed.keySet().forEach(tp -> latest.put(tp, OffsetSpec.latest()));
      var ends = admin.listOffsets(latest).all().get();
      assertThat(committed).hasSize(3);
      committed.forEach((tp, o) -> assertThat(o.offset()).isEqualTo(ends.get(tp).offset()));
    }
  }

  @Test
  void twoInstancesInOneGroupSplitThePartitionsAndLabelEachPromptOnce() throws Exception {
    String prefix = "pair";
    topics(prefix, 4);
    PromptServiceLoop a =
        new PromptServiceLoop(
            config(prefix, "pair-tx-a"),
            new PromptLabeler(teacher, BLOCK, 100),
            new TeacherMetrics());
    PromptServiceLoop b =
        new PromptServiceLoop(
            config(prefix, "pair-tx-b"),
            new PromptLabeler(teacher, BLOCK, 100),
            new TeacherMetrics());
    Thread ta = start(a);
    Thread tb = start(b);
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while ((a.assignedPartitions() == 0 || b.assignedPartitions() == 0)
        && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    assertThat(a.assignedPartitions() + b.assignedPartitions()).isEqualTo(4);
    Map<String, String> texts = texts(prefix, 60, 2);
    Map<String, byte[]> records = new TreeMap<>();
    texts.forEach((id, text) -> records.put(id, prompt(id, text)));
    produce(prefix + ".prompts", records);
    List<ConsumerRecord<String, byte[]>> out =
        readCommitted(prefix + ".outputs", expectedChunks(texts), Duration.ofSeconds(60));
    a.requestStop();
    b.requestStop();
    ta.join(20_000);
    tb.join(20_000);
    assertExactlyOnce(texts, out);
    assertThat(a.committedPrompts()).isPositive();
    assertThat(b.committedPrompts()).isPositive();
    assertThat(a.committedPrompts() + b.committedPrompts()).isEqualTo(60);
  }

  @Test
  void promptsAskingForRationalesGetNSampledRationalesWithAnswersLogprobsAndSoftLabels()
      throws Exception {
    String prefix = "cot";
    topics(prefix, 2);
    RationaleConfig cot = new RationaleConfig(3, 1f, 6, Pattern.compile("([a-z]) "), "q %s a");
    Map<String, String> texts = new TreeMap<>();
    Map<String, Integer> asked = new TreeMap<>();
    Map<String, byte[]> records = new TreeMap<>();
    String[] questions = {"abc", "hello", "xyz", "ab", "kafka", "no cot"};
    for (int i = 0; i < questions.length; i++) {
      String id = prefix + "-" + i;
      int n = i == questions.length - 1 ? 0 : 1 + i % 3;
      texts.put(id, questions[i]);
      asked.put(id, n);
      records.put(id, prompt(id, questions[i], n));
    }
    records.put("too-many", prompt("too-many", "abc", 4));
    records.put("no-room", prompt("no-room", "abcdefghijklmn", 1));
    produce(prefix + ".prompts", records);

    Ran ran =
        runUntilDone(prefix, "cot-tx-1", new PromptLabeler(teacher, BLOCK, 100, cot), texts, 2);
    List<ConsumerRecord<String, byte[]>> out = ran.out();
    List<ConsumerRecord<String, byte[]>> dlq = ran.dlq();
    TeacherMetrics metrics = ran.metrics();

    assertExactlyOnce(texts, out);
    Map<String, String> reasons = reasons(dlq);
    assertThat(reasons)
        .containsExactlyInAnyOrderEntriesOf(
            Map.of("too-many", "RATIONALES_REFUSED", "no-room", "OVER_LENGTH"));

    assertThat(metrics.rationalesCount())
        .isEqualTo(asked.values().stream().mapToInt(Integer::intValue).sum());
    assertThat(metrics.scrape()).contains("distill_teacher_rationales_answered_total");
    int vocab = teacher.model().config().vocabSize();
    SoftLabeler direct = new SoftLabeler(teacher.model(), new LabelingConfig(4, 2f, 1));
    for (ConsumerRecord<String, byte[]> r : out) {
      TeacherOutput o = SingleObjectEncoding.decodeTeacherOutput(r.value());
      String id = o.getPromptId().toString();
      int n = o.getChunkIndex() == 0 ? asked.get(id) : 0;
      assertThat(o.getRationales()).as(id).hasSize(n);
      int[] start = teacher.encode("q " + texts.get(id) + " a");
      for (Rationale x : o.getRationales()) {
        int[] ids = x.getTokenIds().stream().mapToInt(Integer::intValue).toArray();
        int generated = ids.length - start.length;
        assertThat(generated).isBetween(1, 6);
        assertThat(Arrays.copyOf(ids, start.length)).isEqualTo(start);
        String text = teacher.decode(Arrays.copyOfRange(ids, start.length, ids.length));
        assertThat(x.getText().toString()).isEqualTo(text);
        Matcher m = cot.answerPattern().matcher(text);
        if (m.find()) {
          assertThat(x.getAnswer().toString()).isEqualTo(m.group(1));
          // Generation stops at the first answer.
          assertThat(m.end()).isEqualTo(text.length());
        } else {
          assertThat(x.getAnswer()).isNull();
          assertThat(generated).isEqualTo(6);
        }
        // Mean log-probability of the sampled tokens under the teacher at T = 1, recomputed.
        double sum = 0;
        try (NDManager nd = NDManager.newBaseManager()) {
          float[] logp =
              teacher.model().logits(nd, new int[][] {ids}).logSoftmax(-1).toFloatArray();
          for (int t = start.length - 1; t < ids.length - 1; t++) {
            sum += logp[t * vocab + ids[t + 1]];
          }
        }
        assertThat((double) x.getMeanLogprob()).isCloseTo(sum / generated, within(1e-4));
        // The rationale's soft labels are the teacher's exact labels of its whole sequence.
        SoftLabels sent = SoftLabelCodec.decode(x.getSoftLabels().array());
        SoftLabels exact = direct.label(List.of(ids)).get(0).labels();
        assertThat(sent.positions()).isEqualTo(ids.length - 1);
        for (int p = 0; p < sent.positions(); p++) {
          assertThat(sent.top1(p)).isEqualTo(exact.top1(p));
        }
      }
    }
  }

  static byte[] prompt(String id, String text, int numRationales) {
    return SingleObjectEncoding.encode(promptOf(id, text).setNumRationales(numRationales).build());
  }
}
