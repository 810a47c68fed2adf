package dev.distill.teacher.labeling;

import dev.distill.schemas.avro.LabelStats;
import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/** Small valid teacher records for tests (vocab 10, k 2). */
public final class Records {
  private Records() {}

  public static TeacherOutput teacherOutput(String id, int positions) {
    int k = 2;
    int[] ids = new int[positions * k];
    float[] probs = new float[positions * k];
    float[] tail = new float[positions];
    List<Integer> tokens = new ArrayList<>();
    for (int p = 0; p < positions; p++) {
      ids[p * k] = p % 10;
      ids[p * k + 1] = (p + 1) % 10;
      probs[p * k] = 0.6f;
      probs[p * k + 1] = 0.3f;
      tail[p] = 0.1f;
      tokens.add(p % 10);
    }
    tokens.add(positions % 10);
    return TeacherOutput.newBuilder()
        .setRecordId(id)
        .setPromptId(id)
        .setRunId("run")
        .setSource("test")
        .setTokens(tokens)
        .setSoftLabels(
            ByteBuffer.wrap(SoftLabelCodec.encode(new SoftLabels(positions, k, ids, probs, tail))))
        .setStats(
            LabelStats.newBuilder()
                .setPositions(positions)
                .setMeanEntropy(1f)
                .setMeanTop1Margin(0.3f)
                .setMeanTopkMass(0.9f)
                .setLabelOutsideTopkRate(0f)
                .build())
        .setProvenance(
            Provenance.newBuilder()
                .setTeacherId("t")
                .setTeacherSha256("ab")
                .setTokenizerId("tok")
                .setTokenizerSha256("cd")
                .setVocabSize(10)
                .setTemperature(2f)
                .setTopK(k)
                .setCodec(SoftLabelCodec.NAME)
                .setCodecVersion(SoftLabelCodec.VERSION)
                .setSchemaVersion(1)
                .build())
        .setCreatedAtMs(0L)
        .build();
  }
}
