package dev.distill.teacher.inference;

import dev.distill.models.gpt.LanguageModel;
import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.codec.SoftLabelCodec;

/** Builds the provenance every teacher record carries (DESIGN.md, Data contracts). */
public final class TeacherIdentity {
  public static final int SCHEMA_VERSION = 1;

  private TeacherIdentity() {}

  public static Provenance provenance(String teacherId, LanguageModel teacher, LabelingConfig c) {
    return provenance(
        teacherId,
        teacher.parametersSha256(),
        teacher.tokenizer().id(),
        teacher.tokenizer().sha256(),
        // the ids a teacher can emit: a padded embedding's extra rows are never labelled
        teacher.vocabSize(),
        c);
  }

  /**
   * The provenance of an in-process teacher identified by these hashes, labelling with {@code c}.
   */
  public static Provenance provenance(
      String teacherId,
      String teacherSha256,
      String tokenizerId,
      String tokenizerSha256,
      int vocabSize,
      LabelingConfig c) {
    return Provenance.newBuilder()
        .setTeacherId(teacherId)
        .setTeacherSha256(teacherSha256)
        .setTokenizerId(tokenizerId)
        .setTokenizerSha256(tokenizerSha256)
        .setVocabSize(vocabSize)
        .setTemperature(c.temperature())
        .setTopK(c.topK())
        .setCodec(SoftLabelCodec.NAME)
        .setCodecVersion(SoftLabelCodec.VERSION)
        .setSchemaVersion(SCHEMA_VERSION)
        .setRetemperatured(false)
        .build();
  }
}
