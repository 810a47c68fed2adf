package dev.distill.models.hf;

import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.nn.LinearMode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Opens a model from what a user names on a command line: {@code hf:PATH} (a Hugging Face folder:
 * config.json, safetensors, tokenizer files), or a PATH that is either one of our checkpoint
 * folders (manifest.json) or a Hugging Face folder.
 */
public final class ModelSources {

  /** The prefix that names a Hugging Face folder explicitly. */
  public static final String HF_PREFIX = "hf:";

  private ModelSources() {}

  /** {@link #open(String, LinearMode)} in {@link LinearMode#DENSE}. */
  public static LanguageModel open(String spec) throws IOException {
    return open(spec, LinearMode.DENSE);
  }

  /**
   * The model {@code spec} names. A Hugging Face folder loads in {@code mode}; one of our
   * checkpoints loads in the mode it was saved in, and {@code mode} must be that mode or DENSE.
   *
   * @throws IOException naming the path and what was expected there
   */
  public static LanguageModel open(String spec, LinearMode mode) throws IOException {
    if (spec == null || spec.isBlank()) {
      throw new IllegalArgumentException("no model given");
    }
    boolean explicitHf = spec.startsWith(HF_PREFIX);
    Path dir = Path.of(explicitHf ? spec.substring(HF_PREFIX.length()) : spec);
    if (!Files.isDirectory(dir)) {
      throw new IOException(
          "model folder " + dir + " does not exist (give a checkpoint folder or hf:FOLDER)");
    }
    if (explicitHf || !Files.exists(dir.resolve(Checkpoints.MANIFEST))) {
      if (!HfModels.isModelFolder(dir)) {
        throw new IOException(
            dir
                + " is neither a distill checkpoint (no "
                + Checkpoints.MANIFEST
                + ") nor a Hugging Face model folder (config.json with model.safetensors or "
                + HfModels.INDEX
                + ")");
      }
      return HfModels.load(dir, mode);
    }
    LanguageModel lm = Checkpoints.load(dir);
    if (mode != LinearMode.DENSE && lm.mode() != mode) {
      lm.close();
      throw new IllegalArgumentException(
          dir + " holds a " + lm.mode() + " model; it cannot be opened as " + mode);
    }
    return lm;
  }
}
