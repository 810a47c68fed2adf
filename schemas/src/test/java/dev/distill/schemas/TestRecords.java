package dev.distill.schemas;

import dev.distill.schemas.avro.LabelStats;
import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/** Small valid records for tests: vocab 10, k 2. */
public final class TestRecords {
  private TestRecords() {}

  public static TeacherOutput teacherOutput(String id, int positions) {
    int k = 2;
    List<Integer> tokens = new ArrayList<>();
    for (int p = 0; p <= positions; p++) {
      tokens.add(p % 10);
    }
    return builder(id, tokens, twoIds(positions, 10), 1f)
        .setPromptId(id)
        .setRunId("run")
        .setSource("test")
        .setProvenance(provenance("t", "ab", "tok", "cd", 10, k))
        .setCreatedAtMs(0L)
        .build();
  }

  /**
   * Top-2 + tail labels: at position p ids {@code p % m} (0.6) and {@code (p + 1) % m} (0.3), tail
   * 0.1.
   */
  public static SoftLabels twoIds(int positions, int m) {
    int[] ids = new int[positions * 2];
    float[] probs = new float[positions * 2];
    float[] tail = new float[positions];
    for (int p = 0; p < positions; p++) {
      ids[2 * p] = p % m;
      ids[2 * p + 1] = (p + 1) % m;
      probs[2 * p] = 0.6f;
      probs[2 * p + 1] = 0.3f;
      tail[p] = 0.1f;
    }
    return new SoftLabels(positions, 2, ids, probs, tail);
  }

  /**
   * A record of {@code tokens} with {@code labels} (codec v1) and well-formed stats of mean entropy
   * {@code meanEntropy}; the caller sets the ids, source, provenance and time.
   */
  public static TeacherOutput.Builder builder(
      String id, List<Integer> tokens, SoftLabels labels, float meanEntropy) {
    return TeacherOutput.newBuilder()
        .setRecordId(id)
        .setTokens(new ArrayList<>(tokens))
        .setSoftLabels(ByteBuffer.wrap(SoftLabelCodec.encode(labels)))
        .setStats(
            LabelStats.newBuilder()
                .setPositions(labels.positions())
                .setMeanEntropy(meanEntropy)
                .setMeanTop1Margin(0.3f)
                .setMeanTopkMass(0.9f)
                .setLabelOutsideTopkRate(0f)
                .build());
  }

  /** Provenance of codec v1 labels at T = 2, schema version 1. */
  public static Provenance provenance(
      String teacher, String teacherSha, String tokenizer, String tokenizerSha, int vocab, int k) {
    return Provenance.newBuilder()
        .setTeacherId(teacher)
        .setTeacherSha256(teacherSha)
        .setTokenizerId(tokenizer)
        .setTokenizerSha256(tokenizerSha)
        .setVocabSize(vocab)
        .setTemperature(2f)
        .setTopK(k)
        .setCodec(SoftLabelCodec.NAME)
        .setCodecVersion(SoftLabelCodec.VERSION)
        .setSchemaVersion(1)
        .build();
  }
}
