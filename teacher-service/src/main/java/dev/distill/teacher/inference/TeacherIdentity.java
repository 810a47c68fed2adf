package dev.distill.teacher.inference;

import dev.distill.models.gpt.LanguageModel;
import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.codec.SoftLabelCodec;

/** Builds the provenance every teacher record carries (DESIGN.md, Data contracts). */
public final class TeacherIdentity {
  public static final int SCHEMA_VERSION = 1;

  private TeacherIdentity() {}

  public static Provenance provenance(String teacherId, LanguageModel teacher, LabelingConfig c) {
    return Provenance.newBuilder()
        .setTeacherId(teacherId)
        .setTeacherSha256(teacher.parametersSha256())
        .setTokenizerId(teacher.tokenizer().id())
        .setTokenizerSha256(teacher.tokenizer().sha256())
        .setVocabSize(teacher.config().vocabSize())
        .setTemperature(c.temperature())
        .setTopK(c.topK())
        .setCodec(SoftLabelCodec.NAME)
        .setCodecVersion(SoftLabelCodec.VERSION)
        .setSchemaVersion(SCHEMA_VERSION)
        .setRetemperatured(false)
        .build();
  }
}
