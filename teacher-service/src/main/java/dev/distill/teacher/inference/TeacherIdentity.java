package dev.distill.teacher.inference;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.codec.SoftLabelCodec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Builds the provenance every teacher record carries (docs/architecture.md, Data contracts).
 *
 * <p>One checkpoint, one identity (issue 17): the id of a teacher loaded from a checkpoint folder
 * comes from the checkpoint, never from whoever labels with it, so the demo and {@code distill
 * label --checkpoint} record the same {@code id@sha256} and curation does not see two teachers. See
 * {@link #teacherIdOf}.
 */
public final class TeacherIdentity {
  public static final int SCHEMA_VERSION = 1;

  /** The checkpoint metadata key holding the teacher's name. */
  public static final String TEACHER_ID_KEY = "teacher_id";

  private TeacherIdentity() {}

  /**
   * The teacher id of a checkpoint folder: the name stored in its metadata ({@value
   * #TEACHER_ID_KEY}), else {@code gpt-} and the first 12 hex digits of the sha256 its manifest
   * records for the parameters file. Either way a property of the checkpoint alone (not of the
   * folder it was copied to).
   */
  public static String teacherIdOf(Path checkpoint) throws IOException {
    String stored = Checkpoints.metadata(checkpoint).get(TEACHER_ID_KEY);
    if (stored != null && !stored.isBlank()) {
      return stored;
    }
    Path manifest = checkpoint.resolve(Checkpoints.MANIFEST);
    try {
      JsonObject m =
          JsonParser.parseString(Files.readString(manifest, StandardCharsets.UTF_8))
              .getAsJsonObject();
      JsonElement sha = m.getAsJsonObject("sha256").get(Checkpoints.PARAMETERS);
      return "gpt-" + sha.getAsString().substring(0, 12);
    } catch (JsonParseException
        | IllegalStateException
        | UnsupportedOperationException
        | NullPointerException
        | ClassCastException
        | StringIndexOutOfBoundsException e) {
      throw new IOException(
          manifest + ": no sha256 of " + Checkpoints.PARAMETERS + "; is this a checkpoint folder?",
          e);
    }
  }

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
