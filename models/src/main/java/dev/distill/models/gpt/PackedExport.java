package dev.distill.models.gpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.distill.models.autograd.Scalars;
import dev.distill.models.checkpoint.CheckpointException;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.nn.LinearMode;
import dev.distill.models.nn.Quantizers;
import dev.distill.models.tokenizer.CharTokenizer;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The compact export of a compressed student: a folder with {@code config.json}, {@code
 * tokenizer.json}, {@value #PACKED} and {@code manifest.json} (format, mode, sha256 of each file).
 *
 * <p>{@value #PACKED}, big-endian, parameters in block order (bits/exp parameters are absorbed):
 *
 * <ul>
 *   <li>block linear weights of a {@link LinearMode#TERNARY} model: float32 scale gamma, then the
 *       codes {-1, 0, +1} packed 4 per byte, 2 bits each (0 = 00, +1 = 01, -1 = 10), row-major;
 *   <li>block linear weights of a {@link LinearMode#SELF_COMPRESSING} model, per output channel:
 *       byte n (bits per weight), and when n > 0 the float32 step {@code 2^e}, int16 offset {@code
 *       min}, then {@code in} unsigned n-bit values {@code v - min}, bit-packed per channel. A
 *       channel whose integers are all 0 has n = 0 and stores nothing else: it is removed;
 *   <li>every other parameter (embeddings, LayerNorms, biases, and all of a dense model): float32.
 * </ul>
 *
 * <p>{@link #read} returns a model that computes what the compressed one computed in its forward
 * pass: a ternary export runs in {@link LinearMode#ACT8} with weights {@code code * gamma}; a
 * self-compressed one runs dense with weights {@code v * 2^e}.
 */
public final class PackedExport {
  public static final String PACKED = "packed.bin";
  private static final String FORMAT = "distill-gpt-packed/1";
  private static final int MAGIC = 0x44505031; // "DPP1"

  private PackedExport() {}

  /** One block linear layer's storage. */
  public record LayerStats(
      String name,
      long outFeatures,
      long inFeatures,
      long payloadBits,
      long zeroWeights,
      long removedChannels) {
    public long weights() {
      return outFeatures * inFeatures;
    }

    /** Payload bits per weight (codes only, without scales or channel headers). */
    public double bitsPerWeight() {
      return (double) payloadBits / weights();
    }

    /** Fraction of the layer's weights that are exactly 0 after quantisation. */
    public double sparsity() {
      return (double) zeroWeights / weights();
    }
  }

  /** What an export holds. */
  public record Summary(long bytesOnDisk, List<LayerStats> layers) {
    /** Payload bits per block linear weight, over all block linear layers. */
    public double bitsPerWeight() {
      long bits = 0;
      long weights = 0;
      for (LayerStats l : layers) {
        bits += l.payloadBits();
        weights += l.weights();
      }
      return weights == 0 ? 32.0 : (double) bits / weights;
    }
  }

  private static boolean isBlockLinearWeight(String name) {
    return name.startsWith("h") && name.endsWith(".weight");
  }

  /** The quantised per-layer statistics of a model as it is now, without writing anything. */
  public static List<LayerStats> stats(LanguageModel lm) throws IOException {
    List<LayerStats> out = new ArrayList<>();
    try (DataOutputStream sink = new DataOutputStream(OutputStream.nullOutputStream())) {
      writePacked(lm, sink, out);
    }
    return out;
  }

  /**
   * Writes the export of {@code lm} (any mode but {@link LinearMode#LOW_RANK}, whose factors are
   * already compact float32: see {@code compression.LowRank.save}) to {@code dir} (created; must
   * not exist).
   */
  public static Summary write(LanguageModel lm, Path dir) throws IOException {
    if (lm.mode() == LinearMode.LOW_RANK) {
      throw new IllegalArgumentException(
          "a LOW_RANK model has no packed export; save it with its ranks (LowRank.save)");
    }
    Files.createDirectories(dir.getParent() == null ? Path.of(".") : dir.getParent());
    Files.createDirectory(dir);
    Files.writeString(
        dir.resolve(Checkpoints.CONFIG), lm.config().toJson(), StandardCharsets.UTF_8);
    lm.tokenizer().saveTo(dir);
    List<LayerStats> layers = new ArrayList<>();
    try (OutputStream os = Files.newOutputStream(dir.resolve(PACKED));
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(os))) {
      writePacked(lm, out, layers);
    }
    JsonObject sha = new JsonObject();
    for (String f : List.of(Checkpoints.CONFIG, Checkpoints.TOKENIZER, PACKED)) {
      sha.addProperty(f, Checkpoints.sha256(dir.resolve(f)));
    }
    JsonObject manifest = new JsonObject();
    manifest.addProperty("format", FORMAT);
    manifest.addProperty("mode", lm.mode().name());
    manifest.add("sha256", sha);
    Files.writeString(
        dir.resolve(Checkpoints.MANIFEST),
        new GsonBuilder().setPrettyPrinting().create().toJson(manifest),
        StandardCharsets.UTF_8);
    return new Summary(Checkpoints.sizeOnDisk(dir), List.copyOf(layers));
  }

  private static void writePacked(LanguageModel lm, DataOutputStream out, List<LayerStats> layers)
      throws IOException {
    LinearMode mode = lm.mode();
    Map<String, NDArray> params = new java.util.HashMap<>();
    for (Pair<String, Parameter> p : lm.block().getParameters()) {
      params.put(p.getKey(), p.getValue().getArray());
    }
    out.writeInt(MAGIC);
    out.writeByte(mode.ordinal());
    try (NDManager scratch = lm.model().getNDManager().newSubManager()) {
      for (Pair<String, Parameter> p : lm.block().getParameters()) {
        String name = p.getKey();
        if (name.endsWith(".bits") || name.endsWith(".exp")) {
          continue;
        }
        NDArray w = p.getValue().getArray();
        if (isBlockLinearWeight(name) && mode == LinearMode.TERNARY) {
          NDArray codes = Quantizers.ternaryCodes(scratch.create(1f).mul(w));
          float scale = Quantizers.ternaryScale(scratch.create(1f).mul(w));
          float[] c = codes.toFloatArray();
          out.writeFloat(scale);
          long zeros = 0;
          for (int i = 0; i < c.length; i += 4) {
            int b = 0;
            for (int j = 0; j < 4 && i + j < c.length; j++) {
              int code = c[i + j] > 0 ? 1 : c[i + j] < 0 ? 2 : 0;
              zeros += code == 0 ? 1 : 0;
              b |= code << (2 * j);
            }
            out.writeByte(b);
          }
          layers.add(
              new LayerStats(
                  name.substring(0, name.length() - 7),
                  w.getShape().get(0),
                  w.getShape().get(1),
                  2L * c.length,
                  zeros,
                  0));
        } else if (isBlockLinearWeight(name) && mode == LinearMode.SELF_COMPRESSING) {
          String layer = name.substring(0, name.length() - 7);
          writeSelfCompressed(
              scratch,
              layer,
              w,
              params.get(layer + ".bits"),
              params.get(layer + ".exp"),
              out,
              layers);
        } else {
          for (float f : w.toFloatArray()) {
            out.writeFloat(f);
          }
        }
      }
    }
  }

  private static void writeSelfCompressed(
      NDManager scratch,
      String layer,
      NDArray w,
      NDArray bits,
      NDArray exp,
      DataOutputStream out,
      List<LayerStats> layers)
      throws IOException {
    int rows = (int) w.getShape().get(0);
    int cols = (int) w.getShape().get(1);
    NDArray e = scratch.create(1f).mul(exp);
    NDArray step = Quantizers.pow2(e);
    NDArray b = Scalars.maximum(scratch.create(1f).mul(bits), 0f);
    NDArray half = Quantizers.pow2(b.sub(1f));
    NDArray ints =
        scratch.create(1f).mul(w).div(step).maximum(half.neg()).minimum(half.sub(1f)).round();
    float[] v = ints.toFloatArray();
    float[] steps = step.toFloatArray();
    long payload = 0;
    long zeros = 0;
    long removed = 0;
    for (int r = 0; r < rows; r++) {
      int min = Integer.MAX_VALUE;
      int max = Integer.MIN_VALUE;
      for (int c = 0; c < cols; c++) {
        int x = (int) v[r * cols + c];
        min = Math.min(min, x);
        max = Math.max(max, x);
        zeros += x == 0 ? 1 : 0;
      }
      int n = (min == 0 && max == 0) ? 0 : 32 - Integer.numberOfLeadingZeros(max - min);
      if (min == max && min != 0) {
        n = 1; // a constant non-zero channel still needs its value: one bit, offset = value
      }
      out.writeByte(n);
      if (n == 0) {
        removed++;
        continue;
      }
      if (min < Short.MIN_VALUE || min > Short.MAX_VALUE || n > 16) {
        throw new IllegalStateException(layer + " channel " + r + " needs " + n + " bits");
      }
      out.writeFloat(steps[r]);
      out.writeShort(min);
      long acc = 0;
      int filled = 0;
      for (int c = 0; c < cols; c++) {
        acc |= ((long) ((int) v[r * cols + c] - min)) << filled;
        filled += n;
        while (filled >= 8) {
          out.writeByte((int) (acc & 0xFF));
          acc >>>= 8;
          filled -= 8;
        }
      }
      if (filled > 0) {
        out.writeByte((int) (acc & 0xFF));
      }
      payload += (long) n * cols;
    }
    layers.add(new LayerStats(layer, rows, cols, payload, zeros, removed));
  }

  /** Reads an export written by {@link #write}, verifying every sha256 first. */
  public static LanguageModel read(Path dir) throws IOException {
    Path manifestFile = dir.resolve(Checkpoints.MANIFEST);
    JsonObject manifest;
    try {
      manifest =
          JsonParser.parseString(Files.readString(manifestFile, StandardCharsets.UTF_8))
              .getAsJsonObject();
      if (!FORMAT.equals(manifest.get("format").getAsString())) {
        throw new CheckpointException(manifestFile + ": format is not " + FORMAT);
      }
    } catch (RuntimeException e) {
      throw new CheckpointException(manifestFile + ": not a packed export manifest", e);
    }
    for (String f : List.of(Checkpoints.CONFIG, Checkpoints.TOKENIZER, PACKED)) {
      String want = manifest.getAsJsonObject("sha256").get(f).getAsString();
      String got = Checkpoints.sha256(dir.resolve(f));
      if (!want.equals(got)) {
        throw new CheckpointException(
            "export file " + dir.resolve(f) + " has sha256 " + got + ", manifest says " + want);
      }
    }
    LinearMode saved = LinearMode.valueOf(manifest.get("mode").getAsString());
    GptConfig config =
        GptConfig.fromJson(
            Files.readString(dir.resolve(Checkpoints.CONFIG), StandardCharsets.UTF_8));
    CharTokenizer tok = CharTokenizer.load(dir.resolve(Checkpoints.TOKENIZER));
    LinearMode runAs = saved == LinearMode.TERNARY ? LinearMode.ACT8 : LinearMode.DENSE;
    LanguageModel lm = LanguageModel.create(config, tok, 0, runAs);
    try (InputStream is = new BufferedInputStream(Files.newInputStream(dir.resolve(PACKED)));
        DataInputStream in = new DataInputStream(is)) {
      if (in.readInt() != MAGIC || in.readUnsignedByte() != saved.ordinal()) {
        throw new CheckpointException(dir.resolve(PACKED) + ": bad header");
      }
      for (Pair<String, Parameter> p : lm.block().getParameters()) {
        String name = p.getKey();
        NDArray target = p.getValue().getArray();
        int rows = (int) target.getShape().get(0);
        int size = (int) target.getShape().size();
        float[] values = new float[size];
        if (isBlockLinearWeight(name) && saved == LinearMode.TERNARY) {
          float scale = in.readFloat();
          for (int i = 0; i < size; i += 4) {
            int b = in.readUnsignedByte();
            for (int j = 0; j < 4 && i + j < size; j++) {
              int code = (b >>> (2 * j)) & 3;
              values[i + j] = code == 1 ? scale : code == 2 ? -scale : 0f;
            }
          }
        } else if (isBlockLinearWeight(name) && saved == LinearMode.SELF_COMPRESSING) {
          int cols = size / rows;
          for (int r = 0; r < rows; r++) {
            int n = in.readUnsignedByte();
            if (n == 0) {
              continue;
            }
            float step = in.readFloat();
            int min = in.readShort();
            long acc = 0;
            int filled = 0;
            long maskBits = (1L << n) - 1;
            for (int c = 0; c < cols; c++) {
              while (filled < n) {
                acc |= ((long) in.readUnsignedByte()) << filled;
                filled += 8;
              }
              int x = (int) (acc & maskBits) + min;
              acc >>>= n;
              filled -= n;
              values[r * cols + c] = x * step;
            }
          }
        } else {
          for (int i = 0; i < size; i++) {
            values[i] = in.readFloat();
          }
        }
        target.set(FloatBuffer.wrap(values));
      }
      if (in.read() != -1) {
        throw new CheckpointException(dir.resolve(PACKED) + ": trailing bytes");
      }
      return lm;
    } catch (IOException | RuntimeException e) {
      lm.close();
      throw e;
    }
  }

  /** Whether {@code dir} holds a packed export (rather than a {@link Checkpoints} folder). */
  public static boolean isPacked(Path dir) throws IOException {
    Path manifest = dir.resolve(Checkpoints.MANIFEST);
    if (!Files.isRegularFile(manifest)) {
      return false;
    }
    try {
      JsonObject o =
          JsonParser.parseString(Files.readString(manifest, StandardCharsets.UTF_8))
              .getAsJsonObject();
      return o.has("format") && FORMAT.equals(o.get("format").getAsString());
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** A packed export through {@link #read}, anything else through {@link Checkpoints#load}. */
  public static LanguageModel loadAny(Path dir) throws IOException {
    return isPacked(dir) ? read(dir) : Checkpoints.load(dir);
  }
}
