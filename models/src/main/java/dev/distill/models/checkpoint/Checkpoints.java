package dev.distill.models.checkpoint;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.hf.HfConfig;
import dev.distill.models.hf.HfDecoder;
import dev.distill.models.nn.LinearMode;
import dev.distill.models.tokenizer.Tokenizer;
import dev.distill.models.tokenizer.Tokenizers;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.stream.Stream;
import org.apache.commons.codec.digest.DigestUtils;
import org.apache.commons.io.file.PathUtils;

/**
 * The checkpoint format: a folder holding {@value #CONFIG} (the model config's JSON), the
 * tokenizer's file(s) ({@link Tokenizer#saveTo}: {@value #TOKENIZER}, plus the Hugging Face config
 * files of a Hugging Face tokenizer), {@value #PARAMETERS} (DJL's {@code Block.saveParameters}
 * stream), {@value #METADATA} (a JSON object of strings) and {@value #MANIFEST} (format version and
 * the SHA-256 of every other file).
 */
public final class Checkpoints {

  public static final String CONFIG = "config.json";
  public static final String TOKENIZER = "tokenizer.json";
  public static final String PARAMETERS = "parameters.bin";
  public static final String METADATA = "metadata.json";
  public static final String MANIFEST = "manifest.json";

  /**
   * Metadata key naming the model's {@link LinearMode} (absent means dense); {@link #save} writes
   * it and {@link #load} builds the model in that mode.
   */
  public static final String LINEAR_MODE = "gpt.linearMode";

  /**
   * Metadata key holding a {@link LinearMode#LOW_RANK} model's rank per block linear layer, a JSON
   * object of layer name to rank (e.g. {@code {"h0.attn":12,...}}): the ranks are part of the
   * architecture (they fix the U/V shapes), so without them the parameters cannot be read back.
   */
  public static final String RANKS = "gpt.ranks";

  /** Metadata key naming the model family: absent for our GPT, {@value #FAMILY_HF}. */
  public static final String FAMILY = "model.family";

  /** {@link #FAMILY} of a Hugging Face family model ({@link HfDecoder}). */
  public static final String FAMILY_HF = "hf";

  private static final String FORMAT = "distill-gpt-checkpoint/1";
  private static final List<String> FILES = List.of(CONFIG, TOKENIZER, PARAMETERS, METADATA);
  private static final Gson GSON =
      new GsonBuilder().disableHtmlEscaping().setPrettyPrinting().create();

  private Checkpoints() {}

  /**
   * A folder: config.json, tokenizer.json, the parameters file, metadata.json, manifest.json
   * (sha256 of every other file). Written atomically: to a sibling temp folder, then renamed over
   * {@code dir} (an existing {@code dir} is replaced).
   *
   * <p>Replacing an existing folder takes two renames (old aside, new in place) because a directory
   * cannot be renamed over a non-empty one; a crash between them leaves the complete new checkpoint
   * in the sibling temp folder and the old one in a sibling {@code .old-} folder, never a
   * half-written {@code dir}.
   */
  public static void save(LanguageModel lm, Path dir, Map<String, String> metadata)
      throws IOException {
    Path target = dir.toAbsolutePath().normalize();
    Path parent = target.getParent();
    Files.createDirectories(parent);
    String name = target.getFileName().toString();
    Path tmp = parent.resolve("." + name + ".tmp-" + UUID.randomUUID());
    Files.createDirectory(tmp);
    try {
      Files.writeString(tmp.resolve(CONFIG), lm.config().toJson(), StandardCharsets.UTF_8);
      lm.tokenizer().saveTo(tmp);
      try (OutputStream os = Files.newOutputStream(tmp.resolve(PARAMETERS));
          DataOutputStream out = new DataOutputStream(new BufferedOutputStream(os))) {
        lm.block().saveParameters(out);
      }
      Map<String, String> meta = new TreeMap<>(metadata);
      if (lm.block() instanceof HfDecoder) {
        meta.put(FAMILY, FAMILY_HF);
      }
      if (lm.mode() != LinearMode.DENSE) {
        meta.put(LINEAR_MODE, lm.mode().name());
      }
      if (lm.mode() == LinearMode.LOW_RANK) {
        meta.put(RANKS, new Gson().toJson(lm.block().ranks()));
      }
      Files.writeString(tmp.resolve(METADATA), GSON.toJson(meta), StandardCharsets.UTF_8);
      JsonObject files = new JsonObject();
      // every file the folder holds: the tokenizer may be several files (a Hugging Face one)
      try (Stream<Path> written = Files.list(tmp)) {
        for (Path file : (Iterable<Path>) written.sorted()::iterator) {
          files.addProperty(file.getFileName().toString(), sha256(file));
        }
      }
      JsonObject manifest = new JsonObject();
      manifest.addProperty("format", FORMAT);
      manifest.add("sha256", files);
      Files.writeString(tmp.resolve(MANIFEST), GSON.toJson(manifest), StandardCharsets.UTF_8);

      if (Files.exists(target)) {
        Path old = parent.resolve("." + name + ".old-" + UUID.randomUUID());
        move(target, old);
        move(tmp, target);
        PathUtils.deleteDirectory(old);
      } else {
        move(tmp, target);
      }
    } finally {
      if (Files.exists(tmp)) {
        PathUtils.deleteDirectory(tmp);
      }
    }
  }

  /**
   * Verifies every manifest sha256 first; a missing or mismatching file -> CheckpointException
   * naming the file.
   */
  public static LanguageModel load(Path dir) throws IOException {
    verify(dir);
    Map<String, String> metadata = metadata(dir);
    boolean hf = FAMILY_HF.equals(metadata.get(FAMILY));
    String configJson = Files.readString(dir.resolve(CONFIG), StandardCharsets.UTF_8);
    GptConfig config = null;
    HfConfig hfConfig = null;
    try {
      if (hf) {
        hfConfig = HfConfig.parse(configJson);
      } else {
        config = GptConfig.fromJson(configJson);
      }
    } catch (IllegalArgumentException e) {
      throw new CheckpointException(dir.resolve(CONFIG) + ": " + e.getMessage(), e);
    }
    Tokenizer tokenizer = Tokenizers.load(dir);
    LinearMode mode;
    try {
      mode = LinearMode.valueOf(metadata.getOrDefault(LINEAR_MODE, LinearMode.DENSE.name()));
    } catch (IllegalArgumentException e) {
      throw new CheckpointException(dir.resolve(METADATA) + ": unknown " + LINEAR_MODE, e);
    }
    Map<String, Integer> ranks = mode == LinearMode.LOW_RANK ? ranks(dir, metadata) : null;
    try (InputStream in = new BufferedInputStream(Files.newInputStream(dir.resolve(PARAMETERS)))) {
      if (hf) {
        return LanguageModel.load(
            new HfDecoder(hfConfig, mode, ranks == null ? Map.of() : ranks), tokenizer, in);
      }
      return ranks != null
          ? LanguageModel.load(config, tokenizer, in, ranks)
          : LanguageModel.load(config, tokenizer, in, mode);
    } catch (IOException | IllegalArgumentException e) {
      throw new CheckpointException(dir.resolve(PARAMETERS) + ": " + e.getMessage(), e);
    }
  }

  /**
   * The ranks recorded by {@link #save} for a LOW_RANK checkpoint. A LOW_RANK checkpoint written
   * before the ranks were recorded cannot be rebuilt (the U/V shapes are unknown): it fails here,
   * naming the file, instead of deep inside the parameter reader.
   */
  private static Map<String, Integer> ranks(Path dir, Map<String, String> metadata)
      throws CheckpointException {
    Path file = dir.resolve(METADATA);
    String json = metadata.get(RANKS);
    if (json == null) {
      throw new CheckpointException(
          file
              + ": a "
              + LinearMode.LOW_RANK
              + " checkpoint needs its per-layer ranks under "
              + RANKS
              + " (this one was written before they were recorded); re-save the model");
    }
    Map<String, Integer> out = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, JsonElement> e :
          JsonParser.parseString(json).getAsJsonObject().entrySet()) {
        out.put(e.getKey(), e.getValue().getAsInt());
      }
    } catch (JsonParseException
        | IllegalStateException
        | UnsupportedOperationException
        | NumberFormatException e) {
      throw new CheckpointException(
          file + ": " + RANKS + " is not a JSON object of layer name to rank", e);
    }
    return out;
  }

  /** The metadata map saved with the checkpoint (not verified against the manifest). */
  public static Map<String, String> metadata(Path dir) throws IOException {
    Path file = dir.resolve(METADATA);
    try {
      JsonObject obj = JsonParser.parseString(readRequired(file)).getAsJsonObject();
      Map<String, String> out = new LinkedHashMap<>();
      for (Map.Entry<String, JsonElement> e : obj.entrySet()) {
        out.put(e.getKey(), e.getValue().getAsString());
      }
      return out;
    } catch (JsonParseException | IllegalStateException | UnsupportedOperationException e) {
      throw new CheckpointException(file + ": not a JSON object of strings", e);
    }
  }

  /** Bytes of all regular files under {@code dir}. */
  public static long sizeOnDisk(Path dir) throws IOException {
    try (Stream<Path> files = Files.walk(dir)) {
      long total = 0;
      for (Path p : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
        total += Files.size(p);
      }
      return total;
    }
  }

  /**
   * Checks that every file named in the manifest exists and has its sha256; throws
   * CheckpointException naming the file otherwise.
   */
  public static void verify(Path dir) throws IOException {
    Path manifestFile = dir.resolve(MANIFEST);
    JsonObject hashes;
    try {
      JsonObject manifest = JsonParser.parseString(readRequired(manifestFile)).getAsJsonObject();
      if (!FORMAT.equals(manifest.get("format").getAsString())) {
        throw new CheckpointException(
            manifestFile + ": format " + manifest.get("format") + " is not " + FORMAT);
      }
      hashes = manifest.getAsJsonObject("sha256");
    } catch (JsonParseException | IllegalStateException | NullPointerException e) {
      throw new CheckpointException(manifestFile + ": not a checkpoint manifest", e);
    }
    for (String file : FILES) {
      if (!hashes.has(file)) {
        throw new CheckpointException(manifestFile + ": no sha256 for " + file);
      }
    }
    for (Map.Entry<String, JsonElement> e : hashes.entrySet()) {
      Path file = dir.resolve(e.getKey()).normalize();
      if (!file.getParent().equals(dir.normalize())) {
        throw new CheckpointException(manifestFile + ": bad file name " + e.getKey());
      }
      if (!Files.isRegularFile(file)) {
        throw new CheckpointException("checkpoint file missing: " + file);
      }
      String actual = sha256(file);
      if (!actual.equals(e.getValue().getAsString())) {
        throw new CheckpointException(
            "checkpoint file "
                + file
                + " has sha256 "
                + actual
                + ", manifest says "
                + e.getValue().getAsString());
      }
    }
  }

  private static String readRequired(Path file) throws IOException {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new CheckpointException("checkpoint file missing: " + file, e);
    }
  }

  private static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to);
    }
  }

  /** SHA-256 (hex) of a file's bytes. */
  public static String sha256(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return DigestUtils.sha256Hex(in);
    }
  }
}
