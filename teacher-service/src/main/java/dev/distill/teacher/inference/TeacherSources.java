package dev.distill.teacher.inference;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.hf.HfModels;
import dev.distill.models.hf.ModelSources;
import dev.distill.schemas.avro.Provenance;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.commons.codec.digest.DigestUtils;

/**
 * Opens an in-process teacher from what a user names on the command line ({@code --teacher SPEC} or
 * {@code --checkpoint DIR}): {@code hf:FOLDER}, or a folder that is one of our checkpoints ({@code
 * manifest.json}) or a Hugging Face model folder ({@code config.json} + safetensors + tokenizer
 * files), through {@code models}' {@link ModelSources#open(String)}.
 *
 * <p>Identity, derived from the files alone (never random, never time-based), so that every command
 * that labels with one folder records one teacher:
 *
 * <ul>
 *   <li>a Hugging Face folder: {@code teacher_sha256} = SHA-256 over, in this order, {@code
 *       config.json}, {@code model.safetensors.index.json} when present, then every {@code
 *       *.safetensors} file by name, each as its file name (UTF-8), a NUL byte, its length (8 bytes
 *       big-endian) and its bytes, and last the tokenizer's sha256 (hex, UTF-8). The default
 *       teacher id is {@code model_type} of {@code config.json}, a dash and the first 12 hex digits
 *       of that sha256 (e.g. {@code qwen2-3f2a...});
 *   <li>one of our checkpoints: the sha256 of its parameters ({@link
 *       LanguageModel#parametersSha256()}), as before.
 * </ul>
 */
public final class TeacherSources {
  private TeacherSources() {}

  /**
   * Opens the teacher {@code spec} names.
   *
   * @param teacherId the id to record; null for the default (see the class comment; for one of our
   *     checkpoints its stored name or sha256 prefix, {@link TeacherIdentity#teacherIdOf})
   * @throws IOException naming the folder and what was expected there
   */
  public static LocalTeacher open(String spec, String teacherId, LabelingConfig config)
      throws IOException {
    Path dir = folder(spec);
    if (!isHuggingFace(spec)) {
      // one checkpoint, one identity: the name stored in it or its parameters' sha256 prefix
      String id = teacherId == null ? TeacherIdentity.teacherIdOf(dir) : teacherId;
      LanguageModel lm = ModelSources.open(spec);
      return new LocalTeacher(id, lm, config);
    }
    LanguageModel lm = ModelSources.open(spec);
    try {
      String sha = huggingFaceSha256(dir, lm.tokenizer().sha256());
      String id = teacherId == null ? modelType(dir) + "-" + sha.substring(0, 12) : teacherId;
      Provenance p =
          TeacherIdentity.provenance(
              id, sha, lm.tokenizer().id(), lm.tokenizer().sha256(), lm.vocabSize(), config);
      return new LocalTeacher(lm, config, p, generationEndIds(dir, lm.vocabSize()));
    } catch (IOException | RuntimeException e) {
      lm.close();
      lm.tokenizer().close();
      throw e;
    }
  }

  /** Whether {@code spec} names a Hugging Face folder (as {@link ModelSources} decides). */
  public static boolean isHuggingFace(String spec) {
    return spec.startsWith(ModelSources.HF_PREFIX)
        || !Files.exists(folder(spec).resolve(Checkpoints.MANIFEST));
  }

  private static Path folder(String spec) {
    return Path.of(
        spec.startsWith(ModelSources.HF_PREFIX)
            ? spec.substring(ModelSources.HF_PREFIX.length())
            : spec);
  }

  /** The teacher sha256 of a Hugging Face folder (see the class comment). */
  public static String huggingFaceSha256(Path dir, String tokenizerSha256) throws IOException {
    List<Path> files = new ArrayList<>();
    files.add(dir.resolve(HfModels.CONFIG));
    if (Files.isRegularFile(dir.resolve(HfModels.INDEX))) {
      files.add(dir.resolve(HfModels.INDEX));
    }
    try (Stream<Path> s = Files.list(dir)) {
      s.filter(p -> p.getFileName().toString().endsWith(".safetensors"))
          .filter(Files::isRegularFile)
          .sorted()
          .forEach(files::add);
    }
    MessageDigest md = DigestUtils.getSha256Digest();
    for (Path f : files) {
      md.update(f.getFileName().toString().getBytes(StandardCharsets.UTF_8));
      md.update((byte) 0);
      long size = Files.size(f);
      for (int i = 7; i >= 0; i--) {
        md.update((byte) (size >>> (8 * i)));
      }
      try (InputStream in = Files.newInputStream(f)) {
        DigestUtils.updateDigest(md, in);
      }
    }
    md.update(tokenizerSha256.getBytes(StandardCharsets.UTF_8));
    return HexFormat.of().formatHex(md.digest());
  }

  private static String modelType(Path dir) throws IOException {
    JsonObject c = json(dir.resolve(HfModels.CONFIG));
    JsonElement t = c == null ? null : c.get("model_type");
    return t != null && t.isJsonPrimitive() ? t.getAsString() : "hf";
  }

  /**
   * The {@code eos_token_id} (an id or a list) of the folder's {@code generation_config.json}, else
   * of its {@code config.json}: generation ends there as in {@code transformers}' {@code generate}.
   * Ids the tokenizer cannot decode are left out (they are never sampled).
   */
  private static Set<Integer> generationEndIds(Path dir, int vocab) throws IOException {
    Set<Integer> out = new LinkedHashSet<>();
    for (String name : List.of(HfModels.GENERATION_CONFIG, HfModels.CONFIG)) {
      JsonObject c = json(dir.resolve(name));
      JsonElement e = c == null ? null : c.get("eos_token_id");
      if (e == null || e.isJsonNull()) {
        continue;
      }
      try {
        if (e.isJsonArray()) {
          e.getAsJsonArray().forEach(x -> out.add(x.getAsInt()));
        } else {
          out.add(e.getAsInt());
        }
      } catch (RuntimeException x) {
        throw new IOException(dir.resolve(name) + ": eos_token_id is not an id or a list of ids");
      }
      break;
    }
    out.removeIf(id -> id < 0 || id >= vocab);
    return out;
  }

  private static JsonObject json(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      return null;
    }
    try {
      JsonElement e = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8));
      return e.isJsonObject() ? e.getAsJsonObject() : null;
    } catch (JsonParseException e) {
      throw new IOException(file + ": not valid JSON: " + e.getMessage(), e);
    }
  }
}
