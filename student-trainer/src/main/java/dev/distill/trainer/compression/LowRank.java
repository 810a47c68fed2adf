package dev.distill.trainer.compression;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import com.google.gson.Gson;
import com.google.gson.reflect.TypeToken;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.Gpt;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.nn.LinearMode;
import dev.distill.models.tokenizer.CharTokenizer;
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Low-rank students: every block linear weight W (out, in) of a trained dense model is factorised
 * as U (out, r) V (r, in) from its truncated SVD, {@code U = U_r sqrt(S_r)}, {@code V = sqrt(S_r)
 * V_r^T} (the best rank-r approximation, Eckart-Young; the square root splits the scale evenly so
 * AdamW moves both factors alike), into a {@link LinearMode#LOW_RANK} model whose other parameters
 * are copied. The factors are then trained directly by the normal loop (KD fine-tuning, as for
 * {@link Pruning}), no regularizer needed. Rank per layer: fixed (capped at min(out, in)) or the
 * smallest r that keeps a fraction {@code energy} of the squared singular values (issue 5,
 * "Low-rank: linear layers factorised W = U V (SVD initialisation, rank by energy or fixed)").
 *
 * <p>Saved as a folder: {@value Checkpoints#CONFIG}, {@value Checkpoints#TOKENIZER}, {@value
 * #RANKS} (layer name to rank, JSON) and {@value Checkpoints#PARAMETERS}; the parameters file holds
 * r (in + out) floats per block linear layer instead of in * out.
 */
public final class LowRank {
  public static final String RANKS = "ranks.json";
  private static final Gson GSON = new Gson();

  private LowRank() {}

  /** Every block linear layer at rank {@code min(rank, out, in)}. */
  public static LanguageModel factorise(LanguageModel dense, int rank) {
    if (rank < 1) {
      throw new IllegalArgumentException("rank must be >= 1, got " + rank);
    }
    return factorise(dense, svd -> Math.min(rank, svd.k()));
  }

  /** Every block linear layer at the smallest rank keeping {@code energy} (in (0, 1]). */
  public static LanguageModel factoriseByEnergy(LanguageModel dense, double energy) {
    if (!(energy > 0 && energy <= 1)) {
      throw new IllegalArgumentException("energy must be in (0, 1], got " + energy);
    }
    return factorise(dense, svd -> svd.rankForEnergy(energy));
  }

  private static LanguageModel factorise(
      LanguageModel dense, java.util.function.ToIntFunction<Svd> rankOf) {
    Objects.requireNonNull(dense, "dense");
    if (dense.mode() != LinearMode.DENSE) {
      throw new IllegalArgumentException("can factorise a DENSE model only, got " + dense.mode());
    }
    if (!(dense.config() instanceof GptConfig config)) {
      throw new IllegalArgumentException(
          "low-rank factorisation of a trained model supports our GPT only, got " + dense.config());
    }
    Map<String, Svd> svds = new LinkedHashMap<>();
    Map<String, Integer> ranks = new LinkedHashMap<>();
    for (Map.Entry<String, long[]> e : Gpt.linearShapes(config).entrySet()) {
      int out = (int) e.getValue()[0];
      int in = (int) e.getValue()[1];
      float[] w = value(dense, e.getKey() + ".weight");
      Svd svd = Svd.of(w, out, in);
      svds.put(e.getKey(), svd);
      ranks.put(e.getKey(), rankOf.applyAsInt(svd));
    }
    LanguageModel lr = LanguageModel.create(config, dense.tokenizer(), 0L, ranks);
    try {
      for (Pair<String, Parameter> p : lr.block().getParameters()) {
        String name = p.getKey();
        NDArray a = p.getValue().getArray();
        float[] values;
        if (name.endsWith(".u") || name.endsWith(".v")) {
          String layer = name.substring(0, name.length() - 2);
          values = factor(svds.get(layer), ranks.get(layer), name.endsWith(".u"));
        } else {
          values = value(dense, name);
        }
        a.set(FloatBuffer.wrap(values));
      }
      return lr;
    } catch (RuntimeException e) {
      lr.close();
      throw e;
    }
  }

  /** U_r sqrt(S_r) (out, r) or sqrt(S_r) V_r^T (r, in), row-major. */
  private static float[] factor(Svd svd, int r, boolean u) {
    int k = svd.k();
    if (u) {
      float[] out = new float[svd.m() * r];
      for (int i = 0; i < svd.m(); i++) {
        for (int j = 0; j < r; j++) {
          out[i * r + j] = (float) (svd.u()[i * k + j] * Math.sqrt(svd.s()[j]));
        }
      }
      return out;
    }
    float[] out = new float[r * svd.n()];
    for (int j = 0; j < r; j++) {
      for (int c = 0; c < svd.n(); c++) {
        out[j * svd.n() + c] = (float) (Math.sqrt(svd.s()[j]) * svd.v()[c * k + j]);
      }
    }
    return out;
  }

  private static float[] value(LanguageModel lm, String name) {
    Parameter p = lm.block().getParameters().get(name);
    if (p == null) {
      throw new IllegalArgumentException("model has no parameter " + name);
    }
    return p.getArray().toFloatArray();
  }

  /** Number of scalar parameters of a model (any mode). */
  public static long parameterCount(LanguageModel lm) {
    long n = 0;
    for (Pair<String, Parameter> p : lm.block().getParameters()) {
      n += p.getValue().getArray().getShape().size();
    }
    return n;
  }

  /**
   * Writes a {@link LinearMode#LOW_RANK} model to {@code dir} (created; must not exist).
   *
   * @return the folder's size on disk in bytes
   */
  public static long save(LanguageModel lm, Path dir) throws IOException {
    if (lm.mode() != LinearMode.LOW_RANK) {
      throw new IllegalArgumentException("model is " + lm.mode() + ", not LOW_RANK");
    }
    Files.createDirectories(dir.toAbsolutePath().getParent());
    Files.createDirectory(dir);
    Files.writeString(
        dir.resolve(Checkpoints.CONFIG), lm.config().toJson(), StandardCharsets.UTF_8);
    lm.tokenizer().saveTo(dir);
    Files.writeString(dir.resolve(RANKS), GSON.toJson(lm.block().ranks()), StandardCharsets.UTF_8);
    try (OutputStream os = Files.newOutputStream(dir.resolve(Checkpoints.PARAMETERS));
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(os))) {
      lm.block().saveParameters(out);
    }
    return Checkpoints.sizeOnDisk(dir);
  }

  /**
   * Reads a folder written by {@link #save}.
   *
   * @throws IOException naming the folder if a file is missing or does not fit the others
   */
  public static LanguageModel load(Path dir) throws IOException {
    for (String f :
        new String[] {Checkpoints.CONFIG, Checkpoints.TOKENIZER, RANKS, Checkpoints.PARAMETERS}) {
      if (!Files.isRegularFile(dir.resolve(f))) {
        throw new IOException("low-rank model " + dir + " has no " + f);
      }
    }
    GptConfig config =
        GptConfig.fromJson(
            Files.readString(dir.resolve(Checkpoints.CONFIG), StandardCharsets.UTF_8));
    CharTokenizer tok = CharTokenizer.load(dir.resolve(Checkpoints.TOKENIZER));
    Map<String, Integer> ranks =
        GSON.fromJson(
            Files.readString(dir.resolve(RANKS), StandardCharsets.UTF_8),
            new TypeToken<LinkedHashMap<String, Integer>>() {}.getType());
    try (InputStream in = Files.newInputStream(dir.resolve(Checkpoints.PARAMETERS))) {
      return LanguageModel.load(config, tok, new java.io.BufferedInputStream(in), ranks);
    } catch (IllegalArgumentException e) {
      throw new IOException("low-rank model " + dir + ": " + e.getMessage(), e);
    }
  }
}
