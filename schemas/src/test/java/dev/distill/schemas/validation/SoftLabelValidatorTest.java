package dev.distill.schemas.validation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.schemas.TestRecords;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.codec.SampledSoftLabelCodec;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

class SoftLabelValidatorTest {

  private static Optional<Reason> reasonOf(int[] ids, float[] probs, float[] tail, int vocab) {
    return SoftLabelValidator.validate(new SoftLabels(1, ids.length, ids, probs, tail), vocab)
        .map(Violation::reason);
  }

  @Test
  void acceptsAWellFormedDistribution() {
    assertThat(reasonOf(new int[] {1, 2}, new float[] {0.6f, 0.3f}, new float[] {0.1f}, 10))
        .isEmpty();
  }

  @Test
  void namesEachKindOfBadLabel() {
    assertThat(reasonOf(new int[] {1, 2}, new float[] {Float.NaN, 0.3f}, new float[] {0.1f}, 10))
        .contains(Reason.NON_FINITE_PROBABILITY);
    assertThat(reasonOf(new int[] {1, 2}, new float[] {-0.1f, 0.3f}, new float[] {0.1f}, 10))
        .contains(Reason.PROBABILITY_OUT_OF_RANGE);
    assertThat(reasonOf(new int[] {1, 2}, new float[] {0.8f, 0.3f}, new float[] {0f}, 10))
        .contains(Reason.TOPK_SUM_ABOVE_ONE);
    assertThat(reasonOf(new int[] {1, 12}, new float[] {0.5f, 0.3f}, new float[] {0.2f}, 10))
        .contains(Reason.ID_OUT_OF_VOCAB);
    assertThat(reasonOf(new int[] {3, 3}, new float[] {0.5f, 0.3f}, new float[] {0.2f}, 10))
        .contains(Reason.DUPLICATE_ID);
    assertThat(reasonOf(new int[] {1, 2, 3}, new float[] {0.5f, 0.3f, 0.1f}, new float[] {0f}, 2))
        .contains(Reason.SHAPE_MISMATCH);
  }

  @Test
  void toleratesFloatRoundingOnTheTopKSum() {
    assertThat(reasonOf(new int[] {1, 2}, new float[] {0.70005f, 0.3f}, new float[] {0f}, 10))
        .isEmpty();
  }

  @Test
  void acceptsAValidRecord() {
    assertThat(SoftLabelValidator.validate(TestRecords.teacherOutput("r1", 5))).isEmpty();
  }

  /** The reason the validator gives for a valid record of n positions after {@code change}. */
  private static Optional<Reason> reasonAfter(int positions, Consumer<TeacherOutput> change) {
    TeacherOutput r = TestRecords.teacherOutput("r1", positions);
    change.accept(r);
    return SoftLabelValidator.validate(r).map(Violation::reason);
  }

  @Test
  void namesEachKindOfBadRecord() {
    assertThat(reasonAfter(5, r -> r.getProvenance().setTemperature(0f)))
        .contains(Reason.NON_POSITIVE_TEMPERATURE);
    assertThat(reasonAfter(5, r -> r.setTokens(List.of(1, 2, 3)))).contains(Reason.SHAPE_MISMATCH);
    assertThat(reasonAfter(2, r -> r.setTokens(List.of(1, 2, 99))))
        .contains(Reason.TOKEN_OUT_OF_VOCAB);
    assertThat(reasonAfter(2, r -> r.getProvenance().setCodec("dense-fp32")))
        .contains(Reason.UNKNOWN_CODEC);
  }

  @Test
  void refusesUndecodableSoftLabels() {
    TeacherOutput r = TestRecords.teacherOutput("r1", 2);
    r.setSoftLabels(ByteBuffer.wrap(new byte[] {1, 2, 3}));
    Optional<Violation> v = SoftLabelValidator.validate(r);
    assertThat(v.map(Violation::reason)).contains(Reason.UNDECODABLE_SOFT_LABELS);
    assertThat(v.get().detail()).contains("magic");
  }

  /** A record carrying sampled labels (codec v2): N = 4 draws per position over a vocab of 10. */
  private static TeacherOutput sampledRecord() {
    TeacherOutput r = TestRecords.teacherOutput("s1", 2);
    // position 0: id 3 drawn 3 times, id 7 once; position 1: id 1 drawn 4 times
    byte[] bytes =
        SampledSoftLabelCodec.encode(
            new SampledSoftLabelCodec.Sampled(
                2, 4, new int[] {0, 2, 3}, new int[] {3, 7, 1}, new int[] {3, 1, 4}));
    r.setSoftLabels(ByteBuffer.wrap(bytes));
    r.getProvenance().setCodec(SampledSoftLabelCodec.NAME);
    r.getProvenance().setCodecVersion(SampledSoftLabelCodec.VERSION);
    r.getProvenance().setTopK(4);
    r.getProvenance().setVocabSize(10);
    r.setTokens(List.of(1, 3, 1));
    return r;
  }

  private static void assertRefusedNamingS1(TeacherOutput r, Reason reason, String detail) {
    Optional<Violation> v = SoftLabelValidator.validate(r);
    assertThat(v.map(Violation::reason)).contains(reason);
    assertThat(v.get().detail()).startsWith("record s1: ").contains(detail);
  }

  @Test
  void acceptsARecordOfSampledLabelsCodecVersion2() {
    assertThat(SoftLabelValidator.validate(sampledRecord())).isEmpty();
  }

  @Test
  void refusesSampledLabelsWhoseSampleCountDisagreesWithProvenanceNamingTheRecord() {
    TeacherOutput r = sampledRecord();
    r.getProvenance().setTopK(8);
    assertRefusedNamingS1(r, Reason.SHAPE_MISMATCH, "N=4");
  }

  @Test
  void refusesBadSampledBytesNamingTheRecord() {
    TeacherOutput r = sampledRecord();
    // v2 header, 1 position, N = 4, then 2 distinct ids whose counts sum to 3, not 4
    r.setSoftLabels(ByteBuffer.wrap(new byte[] {(byte) 0xD1, 2, 1, 4, 2, 1, 0, 2, 1}));
    r.setTokens(List.of(1, 3));
    r.getStats().setPositions(1);
    assertRefusedNamingS1(r, Reason.UNDECODABLE_SOFT_LABELS, "sum to 3");
  }

  @Test
  void refusesSampledIdsOutsideTheVocabularyOrVersion2BytesUnderTheVersion1CodecName() {
    TeacherOutput small = sampledRecord();
    small.getProvenance().setVocabSize(5);
    assertThat(SoftLabelValidator.validate(small).map(Violation::reason))
        .contains(Reason.ID_OUT_OF_VOCAB);
    TeacherOutput misnamed = sampledRecord();
    misnamed.getProvenance().setCodec(SoftLabelCodec.NAME);
    misnamed.getProvenance().setCodecVersion(SoftLabelCodec.VERSION);
    assertThat(SoftLabelValidator.validate(misnamed).map(Violation::reason))
        .contains(Reason.UNDECODABLE_SOFT_LABELS);
  }
}
