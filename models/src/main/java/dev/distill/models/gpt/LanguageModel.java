package dev.distill.models.gpt;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.util.Pair;
import dev.distill.models.nn.CausalLm;
import dev.distill.models.nn.LinearMode;
import dev.distill.models.nn.LmConfig;
import dev.distill.models.tokenizer.Tokenizer;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Random;
import java.util.function.Supplier;
import org.apache.commons.codec.digest.DigestUtils;

/**
 * A causal language model block ({@link CausalLm}: our {@link Gpt}, or a Hugging Face family)
 * inside a DJL Model, plus its tokenizer.
 *
 * <p>Training: the parameters are initialised (and marked as requiring gradients) when this object
 * is created or loaded, so the standard DJL loop works as is and keeps them: {@code Trainer t =
 * lm.model().newTrainer(config)}, then {@code t.forward(new NDList(tokens))} inside {@code
 * t.newGradientCollector()}, {@code gc.backward(loss)}, {@code t.step()}. Calling {@code
 * t.initialize(new Shape(b, t))} is not needed; it is harmless (DJL skips parameters that already
 * have values), so the parameters are never re-initialised. Create the input arrays (int32 or
 * int64, shape (B, T), T <= blockSize) in a per-step manager (e.g. {@code
 * trainer.getManager().newSubManager()}) and close it after {@code step()}: every activation of the
 * forward is attached to the tokens' manager.
 *
 * <p>The model lives on the CPU device of the PyTorch engine. Closing this closes the model and
 * every parameter.
 */
public final class LanguageModel implements AutoCloseable {

  private static final String ENGINE = "PyTorch";

  private final Model model;
  private final CausalLm block;
  private final Tokenizer tokenizer;

  /** Multiply-adds per position of the widest block linear layer (out x in). */
  private final long widestLinear;

  private LanguageModel(Model model, CausalLm block, Tokenizer tokenizer) {
    this.model = model;
    this.block = block;
    this.tokenizer = tokenizer;
    long widest = 0;
    for (long[] shape : block.linearShapes().values()) {
      widest = Math.max(widest, shape[0] * shape[1]);
    }
    this.widestLinear = widest;
  }

  /**
   * A new model whose parameters are initialised deterministically from {@code seed}: weights N(0,
   * 0.02) drawn from {@code java.util.Random(seed)} in parameter order, LayerNorm gamma 1 and beta
   * 0, biases 0. The same seed gives the same parameters on every machine.
   */
  public static LanguageModel create(GptConfig config, Tokenizer tokenizer, long seed) {
    return create(config, tokenizer, seed, LinearMode.DENSE);
  }

  /**
   * As {@link #create(GptConfig, Tokenizer, long)} with the block linear layers in {@code mode};
   * the dense parameters get the same values as a dense model of the same seed.
   */
  public static LanguageModel create(
      GptConfig config, Tokenizer tokenizer, long seed, LinearMode mode) {
    checkVocab(config, tokenizer);
    return create(new Gpt(config, mode), tokenizer, seed);
  }

  /**
   * A new {@link LinearMode#LOW_RANK} model with the given rank per block linear layer ({@link
   * Gpt#Gpt(GptConfig, java.util.Map)}), initialised from {@code seed} as the other modes.
   */
  public static LanguageModel create(
      GptConfig config, Tokenizer tokenizer, long seed, java.util.Map<String, Integer> ranks) {
    checkVocab(config, tokenizer);
    return create(new Gpt(config, ranks), tokenizer, seed);
  }

  /**
   * A model whose parameters take the values of the initializers already set on each of them (e.g.
   * weights read from a Hugging Face checkpoint by {@code HfModels}), marked as requiring gradients
   * like a created model's.
   */
  public static LanguageModel fromInitializers(CausalLm block, Tokenizer tokenizer) {
    checkVocabFits(block.config(), tokenizer);
    Model model = Model.newInstance("lm", ai.djl.Device.cpu(), ENGINE);
    try {
      model.setBlock(block);
      block.initialize(model.getNDManager(), DataType.FLOAT32, inputShape(block.config()));
      return new LanguageModel(model, block, tokenizer);
    } catch (RuntimeException e) {
      model.close();
      throw e;
    }
  }

  /**
   * A new model of any family ({@code block}) whose weights are drawn as in {@link
   * #create(GptConfig, Tokenizer, long)}; the tokenizer may have fewer ids than the embedding has
   * rows (padded vocabularies), never more.
   */
  public static LanguageModel create(CausalLm block, Tokenizer tokenizer, long seed) {
    checkVocabFits(block.config(), tokenizer);
    LmConfig config = block.config();
    block.setInitializer(new SeededNormal(new Random(seed), 0.02f), Parameter.Type.WEIGHT);
    Model model = Model.newInstance("gpt", ai.djl.Device.cpu(), ENGINE);
    try {
      model.setBlock(block);
      block.initialize(model.getNDManager(), DataType.FLOAT32, inputShape(config));
      return new LanguageModel(model, block, tokenizer);
    } catch (RuntimeException e) {
      model.close();
      throw e;
    }
  }

  /**
   * A model whose parameters are read from a stream written by {@code block().saveParameters(new
   * DataOutputStream(out))}. Used by the checkpoint format; the stream is not closed.
   *
   * @throws IOException if the stream does not hold parameters of this config
   */
  public static LanguageModel load(GptConfig config, Tokenizer tokenizer, InputStream params)
      throws IOException {
    return load(config, tokenizer, params, LinearMode.DENSE);
  }

  /** As {@link #load(GptConfig, Tokenizer, InputStream)} for a model in {@code mode}. */
  public static LanguageModel load(
      GptConfig config, Tokenizer tokenizer, InputStream params, LinearMode mode)
      throws IOException {
    checkVocab(config, tokenizer);
    return load(new Gpt(config, mode), tokenizer, params);
  }

  /** As {@link #load(GptConfig, Tokenizer, InputStream)} for a low-rank model of {@code ranks}. */
  public static LanguageModel load(
      GptConfig config,
      Tokenizer tokenizer,
      InputStream params,
      java.util.Map<String, Integer> ranks)
      throws IOException {
    checkVocab(config, tokenizer);
    return load(new Gpt(config, ranks), tokenizer, params);
  }

  /** A model of any family whose parameters are read from {@code params} (see the other load). */
  public static LanguageModel load(CausalLm block, Tokenizer tokenizer, InputStream params)
      throws IOException {
    checkVocabFits(block.config(), tokenizer);
    LmConfig config = block.config();
    Model model = Model.newInstance("gpt", ai.djl.Device.cpu(), ENGINE);
    try {
      model.setBlock(block);
      block.loadParameters(model.getNDManager(), new DataInputStream(params));
      checkLoadedShapes(block);
      // Loaded arrays do not require gradients yet; initialize() on initialised parameters only
      // marks them, so a Trainer can train a loaded model exactly like a created one.
      block.initialize(model.getNDManager(), DataType.FLOAT32, inputShape(config));
      return new LanguageModel(model, block, tokenizer);
    } catch (MalformedModelException e) {
      model.close();
      throw new IOException("malformed parameters: " + e.getMessage(), e);
    } catch (IOException | RuntimeException e) {
      model.close();
      throw e;
    }
  }

  /**
   * Replaces this model's parameter values, in place, with those of a stream written by {@code
   * block().saveParameters(...)} (e.g. a checkpoint's parameters file), and marks them as requiring
   * gradients again. Used to resume training into a model a caller already holds; create any
   * Trainer after this call. The stream is not closed.
   *
   * @throws IOException if the stream does not hold parameters of this model's config
   */
  public void loadParameters(InputStream params) throws IOException {
    try {
      block.loadParameters(model.getNDManager(), new DataInputStream(params));
    } catch (MalformedModelException e) {
      throw new IOException("malformed parameters: " + e.getMessage(), e);
    }
    checkLoadedShapes(block);
    // as in load(): initialize() on initialised parameters only marks them as requiring gradients
    block.initialize(model.getNDManager(), DataType.FLOAT32, inputShape(config()));
  }

  /** Fails when a loaded parameter's array does not have the shape the block's config declares. */
  private static void checkLoadedShapes(CausalLm block) throws IOException {
    for (Pair<String, Parameter> p : block.getParameters()) {
      Shape expected = p.getValue().getShape();
      Shape actual = p.getValue().getArray().getShape();
      if (!expected.equals(actual)) {
        throw new IOException(
            "parameter " + p.getKey() + " has shape " + actual + ", config needs " + expected);
      }
    }
  }

  private static Shape inputShape(LmConfig config) {
    return new Shape(1, config.blockSize());
  }

  private static void checkVocabFits(LmConfig config, Tokenizer tokenizer) {
    if (tokenizer.vocabSize() > config.vocabSize()) {
      throw new IllegalArgumentException(
          "tokenizer "
              + tokenizer.id()
              + " has "
              + tokenizer.vocabSize()
              + " ids, the model's embedding only "
              + config.vocabSize()
              + " rows");
    }
  }

  private static void checkVocab(GptConfig config, Tokenizer tokenizer) {
    Objects.requireNonNull(config, "config");
    Objects.requireNonNull(tokenizer, "tokenizer");
    if (config.vocabSize() != tokenizer.vocabSize()) {
      throw new IllegalArgumentException(
          "config vocabSize "
              + config.vocabSize()
              + " != tokenizer vocabSize "
              + tokenizer.vocabSize()
              + " ("
              + tokenizer.id()
              + ")");
    }
  }

  public Model model() {
    return model;
  }

  public CausalLm block() {
    return block;
  }

  public LmConfig config() {
    return block.config();
  }

  /** How the block linear layers compute. */
  public LinearMode mode() {
    return block.mode();
  }

  public Tokenizer tokenizer() {
    return tokenizer;
  }

  /**
   * Inference forward (no dropout, no gradient recording) of a batch of equal-length rows.
   *
   * @return logits (B, T, V) float32, attached to {@code manager}; the caller closes it
   * @throws IllegalArgumentException for an empty batch, rows of different lengths, a length
   *     outside [1, blockSize] or an id outside [0, vocabSize)
   */
  public NDArray logits(NDManager manager, int[][] tokens) {
    long[] flat = flatten(tokens);
    return withoutGradients(
        manager,
        () -> {
          try (NDManager scratch = manager.newSubManager()) {
            NDArray x = scratch.create(flat, new Shape(tokens.length, tokens[0].length));
            ParameterStore ps = new ParameterStore(scratch, false);
            NDArray out = decodable(block.forward(ps, new NDList(x), false).singletonOrThrow());
            out.attach(manager);
            return out;
          }
        });
  }

  /**
   * Ids this model can emit and its tokenizer decode: [0, vocabSize). The width of the logits of
   * {@link #logits} and {@link KvCache#logits}. Checkpoints whose embedding has more rows than the
   * tokenizer has ids (padded vocabularies: Qwen2.5 has 151,936 ids and 152,064 rows) never emit a
   * padding id.
   */
  public int vocabSize() {
    return tokenizer.vocabSize();
  }

  /**
   * The logits of the ids the tokenizer can decode: the padding columns of a padded embedding are
   * dropped, so every consumer (soft labels, sampling, greedy decoding) works over decodable ids
   * and the softmax renormalises over them.
   */
  private NDArray decodable(NDArray logits) {
    long v = logits.getShape().get(2);
    if (v == tokenizer.vocabSize()) {
      return logits;
    }
    return logits.get(new NDIndex(":, :, :" + tokenizer.vocabSize()));
  }

  /**
   * A new, empty key/value cache for incremental decoding with this model ({@link KvCache}); its
   * arrays live in a sub-manager of this model's manager until the cache is closed.
   */
  public KvCache newKvCache() {
    return new KvCache(this, model.getNDManager().newSubManager());
  }

  /** {@link KvCache#logits}: validated there and here; on failure the cache is emptied. */
  NDArray cachedLogits(NDManager manager, int[][] tokens, KvCache cache) {
    long[] flat = flatten(tokens);
    try {
      long rows = (long) tokens.length * tokens[0].length;
      return withoutGradients(
          manager,
          () ->
              onOneThreadIfSmall(
                  manager,
                  rows,
                  () -> {
                    try (NDManager scratch = manager.newSubManager()) {
                      NDArray x = scratch.create(flat, new Shape(tokens.length, tokens[0].length));
                      ParameterStore ps = new ParameterStore(scratch, false);
                      NDArray out = decodable(block.forwardCached(ps, x, cache));
                      out.attach(manager);
                      return out;
                    }
                  }));
    } catch (RuntimeException e) {
      // a failure part way through the layers would leave them holding different lengths
      cache.reset();
      throw e;
    }
  }

  /**
   * The rows of {@code tokens} in one array, row after row.
   *
   * @throws IllegalArgumentException for an empty batch, rows of different lengths or an id outside
   *     [0, vocabSize)
   */
  private long[] flatten(int[][] tokens) {
    int b = tokens.length;
    if (b == 0) {
      throw new IllegalArgumentException("empty batch");
    }
    int t = tokens[0].length;
    int v = config().vocabSize();
    // int64, the embedding's index type: no conversion op in the forward
    long[] flat = new long[b * t];
    for (int i = 0; i < b; i++) {
      if (tokens[i].length != t) {
        throw new IllegalArgumentException(
            "row " + i + " has length " + tokens[i].length + ", row 0 has " + t);
      }
      for (int j = 0; j < t; j++) {
        int id = tokens[i][j];
        if (id < 0 || id >= v) {
          throw new IllegalArgumentException(
              "token id " + id + " at [" + i + "][" + j + "] outside [0, " + v + ")");
        }
        flat[i * t + j] = id;
      }
    }
    return flat;
  }

  /**
   * Most multiply-adds of one block linear layer ({@code rows x in x out}, the largest layer) for
   * which a cached forward runs on one intra-op thread: 2^20.
   */
  static final long ONE_THREAD_MAX_MACS = 1L << 20;

  /**
   * Runs {@code forward} on one intra-op thread of the engine when the step is small: {@code rows}
   * positions times the widest block linear layer below {@link #ONE_THREAD_MAX_MACS} multiply-adds
   * (batch-1 decoding of a small model: a 0.8M-parameter GPT's largest layer is 65,536 per
   * position). Why (issue 13): such a step is about 90 engine ops of a few microseconds each; with
   * two intra-op threads every op that goes parallel wakes the other thread (with {@code
   * OMP_WAIT_POLICY=PASSIVE}, which distill runs with) or both threads spin on each other (with the
   * default policy on a loaded machine), which cost more than the op. libtorch's thread count is
   * per calling thread under OpenMP ({@code at::set_num_threads}: {@code omp_set_num_threads} and
   * MKL's thread-local setting), so other threads are not affected; it is restored after the step.
   */
  private NDArray onOneThreadIfSmall(NDManager manager, long rows, Supplier<NDArray> forward) {
    boolean small =
        rows * widestLinear < ONE_THREAD_MAX_MACS
            && ENGINE.equals(manager.getEngine().getEngineName());
    int threads = small ? JniUtils.getNumThreads() : 1;
    if (threads <= 1) {
      return forward.get();
    }
    JniUtils.setNumThreads(1);
    try {
      return forward.get();
    } finally {
      JniUtils.setNumThreads(threads);
    }
  }

  /**
   * Runs {@code forward} with gradient recording off. Inside a caller's GradientCollector grad mode
   * is on; a teacher's logits must not build a graph, so switch it off for this forward and restore
   * it after.
   */
  private static NDArray withoutGradients(NDManager manager, Supplier<NDArray> forward) {
    boolean pytorch = ENGINE.equals(manager.getEngine().getEngineName());
    boolean gradMode = pytorch && JniUtils.isGradMode();
    if (gradMode) {
      JniUtils.setGradMode(false);
    }
    try {
      return forward.get();
    } finally {
      if (gradMode) {
        JniUtils.setGradMode(true);
      }
    }
  }

  /**
   * SHA-256 (hex) over all parameters in block order; for each: its name (UTF-8), its shape's
   * dimensions (int64 little-endian), its float32 values (little-endian).
   */
  public String parametersSha256() {
    MessageDigest md = DigestUtils.getSha256Digest();
    for (Pair<String, Parameter> p : block.getParameters()) {
      md.update(p.getKey().getBytes(StandardCharsets.UTF_8));
      NDArray a = p.getValue().getArray();
      long[] dims = a.getShape().getShape();
      ByteBuffer shape = ByteBuffer.allocate(8 * (dims.length + 1)).order(ByteOrder.LITTLE_ENDIAN);
      shape.putLong(dims.length);
      for (long d : dims) {
        shape.putLong(d);
      }
      md.update(shape.array());
      float[] values = a.toFloatArray();
      ByteBuffer buf = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
      buf.asFloatBuffer().put(values);
      md.update(buf.array());
    }
    return HexFormat.of().formatHex(md.digest());
  }

  @Override
  public void close() {
    model.close();
  }

  /** N(0, sigma) from one shared {@link Random}, consumed in parameter order (deterministic). */
  private static final class SeededNormal implements Initializer {
    private final Random rng;
    private final float sigma;

    SeededNormal(Random rng, float sigma) {
      this.rng = rng;
      this.sigma = sigma;
    }

    @Override
    public NDArray initialize(NDManager manager, Shape shape, DataType dataType) {
      float[] values = new float[Math.toIntExact(shape.size())];
      for (int i = 0; i < values.length; i++) {
        values[i] = (float) (rng.nextGaussian() * sigma);
      }
      NDArray array = manager.create(values, shape);
      if (dataType == DataType.FLOAT32) {
        return array;
      }
      try (array) {
        return array.toType(dataType, true);
      }
    }
  }
}
