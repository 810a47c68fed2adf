package dev.distill.spark.transforms;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.schemas.validation.SoftLabelValidator;
import dev.distill.schemas.validation.Violation;
import dev.distill.spark.TestRecords;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.expressions.GenericRowWithSchema;
import org.junit.jupiter.api.Test;

/** The cheap validity test of the top-k codec agrees with the schemas validator on every row. */
class RecordValidationTest {
  private static final int VOCAB = 50_000;

  /** A valid record over a large vocabulary (multi-byte id gaps), k = 4. */
  private static TeacherOutput valid(SplittableRandom r) {
    int positions = 1 + r.nextInt(6);
    int k = 4;
    List<Integer> tokens = new ArrayList<>();
    for (int i = 0; i <= positions; i++) {
      tokens.add(r.nextInt(VOCAB));
    }
    int[] ids = new int[positions * k];
    float[] probs = new float[positions * k];
    float[] tail = new float[positions];
    for (int p = 0; p < positions; p++) {
      int id = r.nextInt(VOCAB - 4 * 1000);
      for (int j = 0; j < k; j++) {
        id += 1 + r.nextInt(1000); // distinct ids, gaps of one or two varint bytes
        ids[p * k + j] = id;
        probs[p * k + j] = 0.2f;
      }
      tail[p] = 0.2f;
    }
    TeacherOutput base = TestRecords.record("r" + r.nextInt(1000), tokens);
    return TeacherOutput.newBuilder(base)
        .setSoftLabels(
            ByteBuffer.wrap(SoftLabelCodec.encode(new SoftLabels(positions, k, ids, probs, tail))))
        .setProvenance(
            Provenance.newBuilder(base.getProvenance()).setVocabSize(VOCAB).setTopK(k).build())
        .build();
  }

  /** One random corruption of a valid record (bytes, shapes, provenance). */
  private static TeacherOutput mutate(TeacherOutput o, SplittableRandom r) {
    byte[] b = o.getSoftLabels().array().clone();
    TeacherOutput.Builder m = TeacherOutput.newBuilder(o);
    Provenance.Builder prov = Provenance.newBuilder(o.getProvenance());
    switch (r.nextInt(9)) {
      case 0 -> b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
      case 1 -> b = Arrays.copyOf(b, r.nextInt(b.length));
      case 2 -> b = Arrays.copyOf(b, b.length + 1 + r.nextInt(3));
      case 3 -> prov.setVocabSize(r.nextInt(VOCAB + 1));
      case 4 -> prov.setTopK(r.nextInt(6));
      case 5 -> prov.setTemperature(r.nextBoolean() ? 0f : Float.NaN);
      case 6 -> {
        List<Integer> t = new ArrayList<>(o.getTokens());
        t.set(r.nextInt(t.size()), r.nextBoolean() ? -1 : VOCAB + r.nextInt(5));
        m.setTokens(t);
      }
      case 7 -> {
        List<Integer> t = new ArrayList<>(o.getTokens());
        t.add(1);
        m.setTokens(t);
      }
      default -> b[2 + r.nextInt(b.length - 2)] = (byte) (0x80 | r.nextInt(256));
    }
    return m.setSoftLabels(ByteBuffer.wrap(b)).setProvenance(prov.build()).build();
  }

  private static Row row(TeacherOutput o) {
    return new GenericRowWithSchema(
        KafkaRecordDecoding.rawValues(o, null, null), RawColumns.SCHEMA);
  }

  @Test
  void fastCheckGivesTheSchemasValidatorsAnswerOnValidAndCorruptedRecords() {
    SplittableRandom r = new SplittableRandom(14);
    int rejected = 0;
    for (int i = 0; i < 5_000; i++) {
      TeacherOutput o = valid(r);
      TeacherOutput x = i % 5 == 0 ? o : mutate(o, r);
      Optional<Violation> expected = SoftLabelValidator.validate(x);
      Optional<Violation> got = RecordValidation.check(row(x));
      assertThat(got).as("record %d", i).isEqualTo(expected);
      if (expected.isPresent()) {
        rejected++;
      }
    }
    // Both answers occur often, so agreement is tested on each side.
    assertThat(rejected).isBetween(1_000, 4_000);
  }

  @Test
  void aValidTopKRowTakesTheCheapPathAndACorruptOneDoesNot() {
    TeacherOutput o = valid(new SplittableRandom(3));
    int[] tokens = o.getTokens().stream().mapToInt(Integer::intValue).toArray();
    assertThat(RecordValidation.certainlyValidTopK(row(o), tokens)).isTrue();
    byte[] b = o.getSoftLabels().array().clone();
    TeacherOutput truncated =
        TeacherOutput.newBuilder(o)
            .setSoftLabels(ByteBuffer.wrap(Arrays.copyOf(b, b.length - 1)))
            .build();
    assertThat(RecordValidation.certainlyValidTopK(row(truncated), tokens)).isFalse();
  }
}
