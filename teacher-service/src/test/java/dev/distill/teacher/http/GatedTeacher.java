package dev.distill.teacher.http;

import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.teacher.inference.LabeledSequence;
import dev.distill.teacher.inference.Teacher;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A stand-in teacher whose speed the test controls, for the tests of the HTTP layer: vocabulary 4,
 * k = 2, T = 1; labels every position with ids 0 and 1 at probabilities 0.5 and 0.25 (tail 0);
 * blocks while {@code gate} is shut (at most 10 s); {@code entered} opens at its first batch.
 */
public final class GatedTeacher implements Teacher {
  private final CountDownLatch gate;
  public final CountDownLatch entered = new CountDownLatch(1);

  public GatedTeacher(CountDownLatch gate) {
    this.gate = gate;
  }

  @Override
  public List<LabeledSequence> label(List<int[]> sequences) {
    entered.countDown();
    try {
      gate.await(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    List<LabeledSequence> out = new ArrayList<>();
    for (int[] s : sequences) {
      int p = s.length - 1;
      int[] ids = new int[p * 2];
      float[] probs = new float[p * 2];
      for (int i = 0; i < p; i++) {
        ids[2 * i + 1] = 1;
        probs[2 * i] = 0.5f;
        probs[2 * i + 1] = 0.25f;
      }
      out.add(
          new LabeledSequence(
              s, new SoftLabels(p, 2, ids, probs, new float[p]), 1f, 0.25f, 0.75f, 0f));
    }
    return out;
  }

  @Override
  public int maxSequenceTokens() {
    return 9;
  }

  @Override
  public int[] encode(String text) {
    return text.chars().map(c -> c % 4).toArray();
  }

  @Override
  public String decode(int[] ids) {
    return "";
  }

  @Override
  public Provenance provenance() {
    return Provenance.newBuilder()
        .setTeacherId("stub")
        .setTeacherSha256("0")
        .setTokenizerId("stub")
        .setTokenizerSha256("0")
        .setVocabSize(4)
        .setTemperature(1f)
        .setTopK(2)
        .setCodec("topk-logq16")
        .setCodecVersion(1)
        .setSchemaVersion(1)
        .build();
  }
}
