package dev.distill.models.tokenizer;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Loads a {@link Tokenizer} of either kind from a folder, and compares two tokenizers. */
public final class Tokenizers {
  /** The file of a folder (checkpoint, model folder) that names its tokenizer, of either kind. */
  public static final String TOKENIZER_FILE = "tokenizer.json";

  private Tokenizers() {}

  /**
   * The tokenizer of folder {@code dir}, by the content of {@code dir/tokenizer.json}: {@code
   * {"type":"char",...}} gives a {@link CharTokenizer}, a Hugging Face {@code tokenizer.json} (an
   * object with a {@code "model"} object) gives an {@link HfTokenizer} with the folder's other
   * tokenizer files.
   *
   * @throws IOException naming the file and the reason when it is missing, not JSON, of neither
   *     kind, or invalid for its kind
   */
  public static Tokenizer load(Path dir) throws IOException {
    Path file = dir.resolve(TOKENIZER_FILE);
    if (!Files.isRegularFile(file)) {
      throw new IOException("no " + TOKENIZER_FILE + " in " + dir);
    }
    byte[] bytes = Files.readAllBytes(file);
    JsonObject json = HfTokenizer.parseObject(file, bytes);
    JsonElement type = json.get("type");
    if (type != null && type.isJsonPrimitive() && "char".equals(type.getAsString())) {
      return CharTokenizer.load(file);
    }
    if (json.has("model") && json.get("model").isJsonObject()) {
      return HfTokenizer.load(dir, bytes, json);
    }
    throw new IOException(
        file
            + ": neither a char tokenizer ({\"type\":\"char\",...}) nor a Hugging Face"
            + " tokenizer.json (an object with a \"model\" object)"
            + (type != null ? "; its \"type\" is " + type : ""));
  }

  /**
   * Refuses a student whose tokenizer differs from the teacher's (by {@link Tokenizer#sha256()}):
   * soft labels carry the teacher's token ids, which mean nothing to another vocabulary.
   *
   * @throws IllegalArgumentException naming both tokenizers' ids and sha256
   */
  public static void requireSame(Tokenizer teacher, Tokenizer student) {
    if (!teacher.sha256().equals(student.sha256())) {
      throw new IllegalArgumentException(
          "student tokenizer "
              + student.id()
              + " (sha256 "
              + student.sha256()
              + ") differs from the teacher's "
              + teacher.id()
              + " (sha256 "
              + teacher.sha256()
              + "); cross-tokenizer distillation is not enabled");
    }
  }
}
