package dev.distill.trainer.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.distill.models.checkpoint.CheckpointException;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.trainer.training.ResumableAdamW;
import dev.distill.trainer.training.TrainResult;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.commons.io.file.PathUtils;

/**
 * Training checkpoints under one root folder, one sub-folder per step, {@code step-00000100}:
 *
 * <ul>
 *   <li>{@code model/}: the model in the {@link Checkpoints} format (its own sha256 manifest), so
 *       every training checkpoint is also a loadable student export;
 *   <li>{@value #OPTIMIZER}: {@link ResumableAdamW} state (per parameter name: update count, m, v);
 *   <li>{@value #STATE}: step, the sampling RNG's state (the data cursor: batches are drawn by it,
 *       with replacement), tokens and seconds so far, the curve, the training config and the run
 *       metadata (loss conventions);
 *   <li>{@value #BEST} (only when the run stops early): the parameters of the best validation pass
 *       so far, by name;
 *   <li>{@value #MANIFEST}: format and the sha256 of {@value #OPTIMIZER}, {@value #STATE} and
 *       {@code model/manifest.json} (which in turn covers the model's files).
 * </ul>
 *
 * <p>Each checkpoint is written into a temporary sibling folder and renamed into place, so a kill
 * at any moment leaves either no folder for that step or a complete one. The newest {@code keep}
 * checkpoints are kept. {@link #latestValid} verifies every sha256 and falls back to an older
 * checkpoint, with a warning, when the newest is damaged.
 */
public final class TrainingCheckpoints {
  public static final String MODEL = "model";
  public static final String OPTIMIZER = "optimizer.bin";
  public static final String STATE = "state.json";
  public static final String MANIFEST = "manifest.json";

  /**
   * The parameters of the best validation pass so far, by name, when the run stops early ({@code
   * patience > 0}): an early stop after a resume returns to them exactly.
   */
  public static final String BEST = "best-parameters.bin";

  private static final int BEST_MAGIC = 0x42657374; // "Best"

  private static final String FORMAT = "distill-train-checkpoint/1";
  private static final Pattern NAME = Pattern.compile("step-(\\d{8})");
  private static final Gson GSON =
      new GsonBuilder()
          .disableHtmlEscaping()
          .setPrettyPrinting()
          .serializeSpecialFloatingPointValues()
          .create();

  private TrainingCheckpoints() {}

  /**
   * The loop's state besides model and optimiser.
   *
   * @param step optimiser steps completed
   * @param rng the sampling RNG, as it is after drawing {@code step} batches
   * @param dataCursor the training data's position when batches are read from a stream ({@link
   *     dev.distill.trainer.io.CuratedStream.Cursor#encode()}), null when they are drawn by {@code
   *     rng}
   * @param bestVal the lowest validation loss so far (early stopping; NaN before the first pass)
   * @param bestStep the step of that pass (0 before the first pass)
   * @param passesWithoutImprovement validation passes since the best one
   */
  public record State(
      int step,
      Random rng,
      long tokens,
      double seconds,
      double trainLoss,
      double lastVal,
      List<TrainResult.CurvePoint> curve,
      Map<String, String> config,
      Map<String, String> metadata,
      String dataCursor,
      double bestVal,
      int bestStep,
      int passesWithoutImprovement) {

    /** A state without early-stopping bookkeeping (no validation pass counted yet). */
    public State(
        int step,
        Random rng,
        long tokens,
        double seconds,
        double trainLoss,
        double lastVal,
        List<TrainResult.CurvePoint> curve,
        Map<String, String> config,
        Map<String, String> metadata,
        String dataCursor) {
      this(
          step,
          rng,
          tokens,
          seconds,
          trainLoss,
          lastVal,
          curve,
          config,
          metadata,
          dataCursor,
          Double.NaN,
          0,
          0);
    }
  }

  /** A verified checkpoint. */
  public record Found(Path dir, State state) {}

  /** The folder of the checkpoint after {@code step} steps. */
  public static Path dirOf(Path root, int step) {
    return root.resolve(String.format(java.util.Locale.ROOT, "step-%08d", step));
  }

  /**
   * Writes a checkpoint atomically and deletes all but the newest {@code keep}.
   *
   * @param names parameter id -> name of the block being trained
   * @return the checkpoint folder
   */
  public static Path save(
      Path root,
      LanguageModel lm,
      ResumableAdamW optimizer,
      Map<String, String> names,
      State state,
      int keep)
      throws IOException {
    return save(root, lm, optimizer, names, state, Map.of(), keep);
  }

  /**
   * As above, also writing {@code best} (parameter name -> the best validation pass's values, empty
   * for none) into {@value #BEST}, covered by the manifest.
   */
  public static Path save(
      Path root,
      LanguageModel lm,
      ResumableAdamW optimizer,
      Map<String, String> names,
      State state,
      Map<String, NDArray> best,
      int keep)
      throws IOException {
    Files.createDirectories(root);
    Path target = dirOf(root, state.step());
    Path tmp = root.resolve("." + target.getFileName() + ".tmp-" + UUID.randomUUID());
    Files.createDirectory(tmp);
    try {
      Checkpoints.save(lm, tmp.resolve(MODEL), state.metadata());
      try (OutputStream os = Files.newOutputStream(tmp.resolve(OPTIMIZER));
          DataOutputStream out = new DataOutputStream(new BufferedOutputStream(os))) {
        optimizer.save(out, names);
      }
      Files.writeString(tmp.resolve(STATE), GSON.toJson(toJson(state)), StandardCharsets.UTF_8);
      List<String> covered =
          new ArrayList<>(List.of(OPTIMIZER, STATE, MODEL + "/" + Checkpoints.MANIFEST));
      if (!best.isEmpty()) {
        try (OutputStream os = Files.newOutputStream(tmp.resolve(BEST));
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(os))) {
          writeBest(out, best);
        }
        covered.add(BEST);
      }
      JsonObject files = new JsonObject();
      for (String f : covered) {
        files.addProperty(f, Checkpoints.sha256(tmp.resolve(f)));
      }
      JsonObject manifest = new JsonObject();
      manifest.addProperty("format", FORMAT);
      manifest.add("sha256", files);
      Files.writeString(tmp.resolve(MANIFEST), GSON.toJson(manifest), StandardCharsets.UTF_8);
      if (Files.exists(target)) {
        PathUtils.deleteDirectory(target);
      }
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, target);
      }
    } finally {
      if (Files.exists(tmp)) {
        PathUtils.deleteDirectory(tmp);
      }
    }
    List<Path> all = list(root);
    for (int i = keep; i < all.size(); i++) {
      PathUtils.deleteDirectory(all.get(i));
    }
    return target;
  }

  /** Checkpoint folders under {@code root}, newest first (none when root does not exist). */
  public static List<Path> list(Path root) throws IOException {
    if (!Files.isDirectory(root)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(root)) {
      return s.filter(p -> NAME.matcher(p.getFileName().toString()).matches())
          .sorted(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed())
          .toList();
    }
  }

  /**
   * The newest checkpoint whose every sha256 verifies. Each newer one that fails is reported to
   * {@code warn} with the reason, and the next older one is tried.
   *
   * @return empty when there is no checkpoint at all
   * @throws CheckpointException when checkpoints exist but none verifies
   */
  public static Optional<Found> latestValid(Path root, Consumer<String> warn) throws IOException {
    List<Path> all = list(root);
    List<String> reasons = new ArrayList<>();
    for (Path dir : all) {
      try {
        return Optional.of(new Found(dir, verify(dir)));
      } catch (IOException | RuntimeException e) {
        String reason = "checkpoint " + dir + " is unusable (" + e.getMessage() + ")";
        reasons.add(reason);
        warn.accept(reason + "; falling back to the previous checkpoint");
      }
    }
    if (!all.isEmpty()) {
      throw new CheckpointException("no usable checkpoint under " + root + ": " + reasons);
    }
    return Optional.empty();
  }

  /** Loads model parameters and optimiser state of a verified checkpoint into the given objects. */
  public static void restore(
      Found found, LanguageModel lm, ResumableAdamW optimizer, Map<String, String> names)
      throws IOException {
    Path params = found.dir().resolve(MODEL).resolve(Checkpoints.PARAMETERS);
    try (InputStream in = new BufferedInputStream(Files.newInputStream(params))) {
      lm.loadParameters(in);
    }
    try (InputStream in =
        new BufferedInputStream(Files.newInputStream(found.dir().resolve(OPTIMIZER)))) {
      optimizer.load(new DataInputStream(in), names, lm.model().getNDManager());
    }
  }

  /**
   * The best validation pass's parameters saved with a verified checkpoint (name -> array in {@code
   * manager}); empty when it has none.
   *
   * @throws IOException when the file is not such parameters or names a parameter not in {@code
   *     names}
   */
  public static Map<String, NDArray> best(Found found, Collection<String> names, NDManager manager)
      throws IOException {
    Path file = found.dir().resolve(BEST);
    if (!Files.exists(file)) {
      return Map.of();
    }
    Map<String, NDArray> best = new TreeMap<>();
    try (DataInputStream in =
        new DataInputStream(new BufferedInputStream(Files.newInputStream(file)))) {
      if (in.readInt() != BEST_MAGIC) {
        throw new IOException(file + ": not best parameters (bad magic)");
      }
      int n = in.readInt();
      for (int i = 0; i < n; i++) {
        String name = in.readUTF();
        if (!names.contains(name)) {
          throw new IOException(file + ": parameter " + name + " is not in the model");
        }
        int len = in.readInt();
        if (len < 0 || len > (1 << 30)) {
          throw new IOException(file + ": bad array length " + len + " for " + name);
        }
        byte[] bytes = new byte[len];
        in.readFully(bytes);
        best.put(name, NDArray.decode(manager, bytes));
      }
    }
    return best;
  }

  private static void writeBest(DataOutputStream out, Map<String, NDArray> best)
      throws IOException {
    Map<String, NDArray> sorted = new TreeMap<>(best);
    out.writeInt(BEST_MAGIC);
    out.writeInt(sorted.size());
    for (Map.Entry<String, NDArray> e : sorted.entrySet()) {
      byte[] bytes = e.getValue().encode();
      out.writeUTF(e.getKey());
      out.writeInt(bytes.length);
      out.write(bytes);
    }
  }

  private static State verify(Path dir) throws IOException {
    Path manifestFile = dir.resolve(MANIFEST);
    JsonObject hashes;
    try {
      JsonObject manifest =
          JsonParser.parseString(Files.readString(manifestFile, StandardCharsets.UTF_8))
              .getAsJsonObject();
      if (!FORMAT.equals(manifest.get("format").getAsString())) {
        throw new CheckpointException(manifestFile + ": format is not " + FORMAT);
      }
      hashes = manifest.getAsJsonObject("sha256");
    } catch (JsonParseException | IllegalStateException | NullPointerException e) {
      throw new CheckpointException(manifestFile + ": not a checkpoint manifest", e);
    }
    List<String> covered =
        new ArrayList<>(List.of(OPTIMIZER, STATE, MODEL + "/" + Checkpoints.MANIFEST));
    if (hashes.has(BEST)) {
      covered.add(BEST);
    }
    for (String f : covered) {
      JsonElement expected = hashes.get(f);
      Path file = dir.resolve(f);
      if (expected == null || !Files.isRegularFile(file)) {
        throw new CheckpointException("checkpoint file missing: " + file);
      }
      String actual = Checkpoints.sha256(file);
      if (!actual.equals(expected.getAsString())) {
        throw new CheckpointException(
            "checkpoint file " + file + " has sha256 " + actual + ", manifest says " + expected);
      }
    }
    Checkpoints.verify(dir.resolve(MODEL));
    return fromJson(
        JsonParser.parseString(Files.readString(dir.resolve(STATE), StandardCharsets.UTF_8))
            .getAsJsonObject());
  }

  private static JsonObject toJson(State s) throws IOException {
    JsonObject o = new JsonObject();
    o.addProperty("step", s.step());
    o.addProperty("rng", Base64.getEncoder().encodeToString(serialize(s.rng())));
    if (s.dataCursor() == null) {
      o.addProperty(
          "dataCursor",
          "batches drawn with replacement by the seeded rng; " + s.step() + " batches drawn");
    } else {
      o.addProperty("dataCursor", s.dataCursor());
      o.addProperty("dataCursorKind", "stream");
    }
    o.addProperty("tokens", s.tokens());
    o.addProperty("seconds", s.seconds());
    o.addProperty("trainLoss", Double.toString(s.trainLoss()));
    o.addProperty("lastVal", Double.toString(s.lastVal()));
    JsonArray curve = new JsonArray();
    for (TrainResult.CurvePoint p : s.curve()) {
      JsonArray point = new JsonArray();
      point.add(p.step());
      point.add(Double.toString(p.trainLoss()));
      point.add(Double.toString(p.valLoss()));
      curve.add(point);
    }
    o.add("curve", curve);
    o.addProperty("bestVal", Double.toString(s.bestVal()));
    o.addProperty("bestStep", s.bestStep());
    o.addProperty("passesWithoutImprovement", s.passesWithoutImprovement());
    o.add("config", GSON.toJsonTree(new TreeMap<>(s.config())));
    o.add("metadata", GSON.toJsonTree(new TreeMap<>(s.metadata())));
    return o;
  }

  private static State fromJson(JsonObject o) throws IOException {
    try {
      List<TrainResult.CurvePoint> curve = new ArrayList<>();
      for (JsonElement e : o.getAsJsonArray("curve")) {
        JsonArray a = e.getAsJsonArray();
        curve.add(
            new TrainResult.CurvePoint(
                a.get(0).getAsInt(),
                Double.parseDouble(a.get(1).getAsString()),
                Double.parseDouble(a.get(2).getAsString())));
      }
      return new State(
          o.get("step").getAsInt(),
          deserialize(Base64.getDecoder().decode(o.get("rng").getAsString())),
          o.get("tokens").getAsLong(),
          o.get("seconds").getAsDouble(),
          Double.parseDouble(o.get("trainLoss").getAsString()),
          Double.parseDouble(o.get("lastVal").getAsString()),
          curve,
          strings(o.getAsJsonObject("config")),
          strings(o.getAsJsonObject("metadata")),
          o.has("dataCursorKind") ? o.get("dataCursor").getAsString() : null,
          // Checkpoints written before early stopping existed have no best pass recorded.
          o.has("bestVal") ? Double.parseDouble(o.get("bestVal").getAsString()) : Double.NaN,
          o.has("bestStep") ? o.get("bestStep").getAsInt() : 0,
          o.has("passesWithoutImprovement") ? o.get("passesWithoutImprovement").getAsInt() : 0);
    } catch (RuntimeException e) {
      throw new CheckpointException(STATE + ": malformed (" + e.getMessage() + ")", e);
    }
  }

  private static Map<String, String> strings(JsonObject o) {
    Map<String, String> m = new TreeMap<>();
    for (Map.Entry<String, JsonElement> e : o.entrySet()) {
      m.put(e.getKey(), e.getValue().getAsString());
    }
    return m;
  }

  private static byte[] serialize(Random rng) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(rng);
    }
    return bytes.toByteArray();
  }

  private static Random deserialize(byte[] bytes) throws IOException {
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes))) {
      // only java.util.Random may be deserialised from a checkpoint
      in.setObjectInputFilter(java.io.ObjectInputFilter.Config.createFilter("java.util.Random;!*"));
      Object o = in.readObject();
      if (o.getClass() != Random.class) {
        throw new IOException(
            "rng state is a " + o.getClass().getName() + ", not java.util.Random");
      }
      return (Random) o;
    } catch (ClassNotFoundException e) {
      throw new IOException("rng state: " + e.getMessage(), e);
    }
  }
}
