package dev.distill.teacher.kafka;

import dev.distill.schemas.avro.Prompt;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.commons.codec.digest.DigestUtils;

/**
 * The service loop's memory of the prompts it labelled, to tell a retry from a conflict (issue 17).
 * A prompt whose {@code (runId, promptId)} was seen with the same content (text, source, gold
 * answer, rationale count) is a retry, for instance a batch redone after an aborted transaction or
 * a producer that sent twice, and is labelled again (readers dedupe by record id). The same id with
 * different content within a run is a conflict: every keyed store downstream would mix the two, so
 * the loop sends it to the DLQ as {@code DUPLICATE_ID}.
 *
 * <p>Bounded: the {@code capacity} most recently seen ids of this instance (least recently seen
 * forgotten first; about 100 bytes each). An instance sees only the partitions it owns: a producer
 * that keys prompts by {@code prompt_id} puts every occurrence of an id on one partition, so one
 * instance judges them, until a rebalance moves the partition.
 */
final class SeenPrompts {
  /** Where an id was first seen, and its content's hash. */
  record First(String source, long contentHash) {}

  private final Map<String, First> seen;

  SeenPrompts(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be >= 1");
    }
    this.seen =
        new LinkedHashMap<>(16, 0.75f, true) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<String, First> eldest) {
            return size() > capacity;
          }
        };
  }

  /**
   * Records {@code p} as seen at {@code source} unless its id was seen before.
   *
   * @return null for a new id or a retry of the same content; the first occurrence when the id was
   *     seen with different content
   */
  First check(Prompt p, String source) {
    String key = p.getRunId() + "\u0000" + p.getPromptId();
    long hash = contentHash(p);
    First first = seen.putIfAbsent(key, new First(source, hash));
    return first == null || first.contentHash() == hash ? null : first;
  }

  int size() {
    return seen.size();
  }

  private static long contentHash(Prompt p) {
    MessageDigest d = DigestUtils.getSha256Digest();
    for (CharSequence s : new CharSequence[] {p.getText(), p.getSource(), p.getGoldAnswer()}) {
      // A length prefix (or -1 for null) keeps ("ab", "c") apart from ("a", "bc").
      byte[] b = s == null ? new byte[0] : s.toString().getBytes(StandardCharsets.UTF_8);
      d.update(ByteBuffer.allocate(4).putInt(s == null ? -1 : b.length).array());
      d.update(b);
    }
    d.update(ByteBuffer.allocate(4).putInt(p.getNumRationales()).array());
    return ByteBuffer.wrap(d.digest()).getLong();
  }
}
