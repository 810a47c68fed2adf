package dev.distill.models.generation;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.distill.models.gpt.KvCache;
import dev.distill.models.gpt.LanguageModel;
import java.util.Arrays;

/**
 * Next-token logits of growing sequences through a {@link KvCache}: the caller passes the whole
 * sequences every step (as it would to {@link LanguageModel#logits}); the decoder runs the model
 * only on the positions it has not seen, when the new sequences extend the ones of its previous
 * call by one token each; rows of the previous call may be left out (finished sequences of a batch:
 * their cached rows are dropped), the others keeping their order. Otherwise (first call, other
 * sequences, a context that reached blockSize) it re-encodes the last {@code min(len, blockSize)}
 * tokens from scratch, nanoGPT's crop: the learned position embeddings are absolute, so the keys of
 * a shifted window cannot be reused, and past blockSize every step costs a full forward of the
 * window, as without a cache. Either way the logits are those of a full forward of the cropped
 * context (up to float rounding).
 *
 * <p>Two paths compute the one-position steps ({@link Backend}): the engine's cached forward
 * ({@link KvCache}), or, for small models, a decoder in plain Java ({@code CpuDecoder}:
 * matrix-vector products over the weights as {@code float[]} and a key/value cache in {@code
 * float[]}, no engine call per op; issue 13). Re-encodings (prefills and crops) always run on the
 * engine, whose matrix products win on many positions (on one engine thread when small and the Java
 * path follows); the Java path then copies the engine's keys and values (one read-back per layer)
 * and decodes from there. The Java path copies the weights when it first takes over from a
 * re-encoding and uses that snapshot until {@link #close()}: a model trained while a decoder is
 * open is not seen by its Java steps (open one per generation, as the engine path also asks of the
 * quantised modes). It covers our GPT and the Hugging Face families (GPT-2, Llama, Qwen2) in the
 * DENSE, LOW_RANK and SELF_COMPRESSING modes up to 2^24 parameters; anything else runs on the
 * engine. The system property {@value #PROPERTY} ({@code engine}, {@code java} or {@code auto}, the
 * default) chooses for the decoders made by {@link #CachedDecoder(LanguageModel)}.
 *
 * <p>Inference only (no gradients); arrays live in the cache's sub-manager, freed by {@link
 * #close()}. One per generation; not thread-safe.
 */
public final class CachedDecoder implements AutoCloseable {

  /**
   * The system property that chooses the {@link Backend} of {@link #CachedDecoder(LanguageModel)}.
   */
  public static final String PROPERTY = "distill.decode";

  /**
   * Most multiply-adds of one Java step (rows times the model's multiply-adds per position) for
   * which {@link Backend#AUTO} decodes in Java: larger batches go to the engine's threaded matrix
   * products. 2^23: 10 rows of the demo teacher (0.79M per position). Measured under load
   * (student-trainer README, "Decoding in plain Java"): greedy batches of 8 rows ran 1.2 to 1.9x
   * faster in Java, of 16 rows 0.65 to 1.8x.
   */
  static final long JAVA_MAX_STEP_MACS = 1L << 23;

  /** Which path computes the one-position steps. */
  public enum Backend {
    /** Always the engine's cached forward. */
    ENGINE,
    /** Always the Java decoder; a model it does not cover fails on construction with the reason. */
    JAVA,
    /**
     * The Java decoder for the models it covers while a step is at most {@link #JAVA_MAX_STEP_MACS}
     * multiply-adds; the engine otherwise.
     */
    AUTO;

    /** The backend {@link #PROPERTY} names (case-insensitive); AUTO when unset. */
    public static Backend fromProperty() {
      String v = System.getProperty(PROPERTY, "auto").trim();
      try {
        return valueOf(v.toUpperCase(java.util.Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            PROPERTY + " must be engine, java or auto, got '" + v + "'", e);
      }
    }
  }

  private final LanguageModel lm;
  private final KvCache cache;
  private final NDManager manager;
  private final Backend backend;

  /** Multiply-adds per position of the block linear layers and the head. */
  private final long macsPerToken;

  /** Why the Java path cannot run this model, or null. */
  private final String javaUnsupported;

  /** The Java decoder, made at the first step that uses it; holds the positions while onJava. */
  private CpuDecoder cpu;

  private boolean onJava;

  /** The sequences of the previous call, or null. */
  private int[][] seen;

  private int prefills;
  private int javaSteps;

  /** A decoder on the backend of the system property {@value #PROPERTY} (AUTO when unset). */
  public CachedDecoder(LanguageModel lm) {
    this(lm, Backend.fromProperty());
  }

  /**
   * A decoder on {@code backend}.
   *
   * @throws IllegalArgumentException for {@link Backend#JAVA} and a model the Java path does not
   *     cover, naming why
   */
  public CachedDecoder(LanguageModel lm, Backend backend) {
    this.lm = lm;
    this.backend = java.util.Objects.requireNonNull(backend, "backend");
    this.javaUnsupported = backend == Backend.ENGINE ? "engine forced" : CpuModel.unsupported(lm);
    if (backend == Backend.JAVA && javaUnsupported != null) {
      throw new IllegalArgumentException(
          "Java decoding ("
              + PROPERTY
              + "=java) cannot run "
              + lm.block()
              + ": "
              + javaUnsupported);
    }
    long macs = 0;
    long width = 0;
    for (long[] shape : lm.block().linearShapes().values()) {
      macs += shape[0] * shape[1];
      width = width == 0 ? shape[1] : width; // the first layer reads the residual stream
    }
    this.macsPerToken = macs + width * lm.vocabSize();
    this.cache = lm.newKvCache();
    this.manager = lm.model().getNDManager().newSubManager();
  }

  /**
   * Logits (B, V) of the position after the last token of each of {@code sequences} (B rows of
   * equal length >= 1).
   *
   * @throws IllegalArgumentException for an empty batch, rows of different or zero length, an id
   *     outside [0, vocabSize)
   */
  public float[][] nextLogits(int[][] sequences) {
    return next(sequences, false);
  }

  /**
   * Log-probabilities at T = 1 (B, V) of the token after each of {@code sequences}: {@link
   * #nextLogits(int[][])} through the engine's log-softmax.
   */
  public float[][] nextLogprobs(int[][] sequences) {
    return next(sequences, true);
  }

  private float[][] next(int[][] sequences, boolean logSoftmax) {
    if (sequences.length == 0) {
      throw new IllegalArgumentException("empty batch");
    }
    int len = sequences[0].length;
    for (int i = 0; i < sequences.length; i++) {
      if (sequences[i].length != len || len == 0) {
        throw new IllegalArgumentException(
            "row " + i + " has length " + sequences[i].length + ", row 0 has " + len);
      }
    }
    int[][] input;
    int[] rows = remaining() > 0 ? rowsExtendedByOne(sequences) : null;
    if (rows != null && onJava) {
      return javaStep(sequences, rows, logSoftmax);
    }
    if (rows != null) {
      if (rows.length != seen.length || !isIdentity(rows)) {
        cache.retainRows(rows);
      }
      input = new int[sequences.length][];
      for (int i = 0; i < sequences.length; i++) {
        input[i] = new int[] {sequences[i][len - 1]};
      }
    } else {
      cache.reset();
      onJava = false;
      prefills++;
      int from = Math.max(0, len - lm.config().blockSize());
      input = new int[sequences.length][];
      for (int i = 0; i < sequences.length; i++) {
        input[i] = Arrays.copyOfRange(sequences[i], from, len);
      }
    }
    seen = null; // stays null if the forward fails: the next call re-encodes
    float[] flat;
    // a small re-encoding that the Java path decodes from runs on one engine thread (below)
    int threads = rows == null && oneThreadPrefill(input) ? JniUtils.getNumThreads() : 1;
    if (threads > 1) {
      JniUtils.setNumThreads(1);
    }
    try (NDManager step = manager.newSubManager()) {
      NDArray logits = cache.logits(step, input); // (B, t, V)
      // one new position per row (decoding): the logits are already the last ones, no index op
      NDArray last = input[0].length == 1 ? logits : logits.get(":, -1, :");
      flat = (logSoftmax ? last.logSoftmax(-1) : last).toFloatArray();
    } finally {
      if (threads > 1) {
        JniUtils.setNumThreads(threads);
      }
    }
    if (rows == null) {
      moveToJavaIfSmall(sequences.length);
    }
    int v = lm.vocabSize();
    float[][] out = new float[sequences.length][];
    for (int i = 0; i < out.length; i++) {
      out[i] = Arrays.copyOfRange(flat, i * v, (i + 1) * v);
    }
    seen = new int[sequences.length][];
    for (int i = 0; i < sequences.length; i++) {
      seen[i] = sequences[i].clone();
    }
    return out;
  }

  /**
   * After a re-encoding on the engine: copies its keys and values into the Java decoder and frees
   * the engine's, when the Java path runs this model and batch and a position is left.
   */
  private void moveToJavaIfSmall(int rows) {
    if (javaUnsupported != null || cache.remaining() == 0) {
      return;
    }
    if (backend == Backend.AUTO && rows * macsPerToken > JAVA_MAX_STEP_MACS) {
      return;
    }
    if (cpu == null) {
      cpu = new CpuDecoder(CpuModel.snapshot(lm));
    }
    cpu.load(cache);
    cache.reset();
    onJava = true;
  }

  /**
   * Whether a re-encoding of {@code input} runs on one engine thread: when the Java path will
   * decode from it and it is at most {@link #ONE_THREAD_PREFILL_MACS} multiply-adds. Why (issue
   * 13): the Java steps run on the calling thread; an OpenMP worker that a threaded prefill woke
   * keeps spinning (with the OpenMP default wait policy) while they run and takes a core from them
   * on a busy machine, and a small prefill gains little from a second thread.
   */
  private boolean oneThreadPrefill(int[][] input) {
    long rows = input.length;
    return javaUnsupported == null
        && (backend == Backend.JAVA || rows * macsPerToken <= JAVA_MAX_STEP_MACS)
        && rows * input[0].length * macsPerToken <= ONE_THREAD_PREFILL_MACS
        && "PyTorch".equals(manager.getEngine().getEngineName());
  }

  /** Most multiply-adds of a re-encoding run on one engine thread before Java decoding: 2^24. */
  static final long ONE_THREAD_PREFILL_MACS = 1L << 24;

  /** A one-position step of the rows {@code rows} of the previous call on the Java decoder. */
  private float[][] javaStep(int[][] sequences, int[] rows, boolean logSoftmax) {
    int len = sequences[0].length;
    int v = lm.config().vocabSize();
    int[] last = new int[sequences.length];
    for (int i = 0; i < sequences.length; i++) {
      int id = sequences[i][len - 1];
      if (id < 0 || id >= v) {
        throw new IllegalArgumentException(
            "token id " + id + " at [" + i + "][" + (len - 1) + "] outside [0, " + v + ")");
      }
      last[i] = id;
    }
    if (rows.length != seen.length || !isIdentity(rows)) {
      cpu.retainRows(rows);
    }
    seen = null;
    float[][] out = cpu.step(last);
    javaSteps++;
    if (logSoftmax) {
      for (float[] row : out) {
        CpuKernels.logSoftmax(row);
      }
    }
    seen = new int[sequences.length][];
    for (int i = 0; i < sequences.length; i++) {
      seen[i] = sequences[i].clone();
    }
    return out;
  }

  private int remaining() {
    return onJava ? lm.config().blockSize() - cpu.length() : cache.remaining();
  }

  private int length() {
    return onJava ? cpu.length() : cache.length();
  }

  /** How many one-position steps ran on the Java decoder. */
  public int javaSteps() {
    return javaSteps;
  }

  /** Logits (V) after the last token of one sequence; see {@link #nextLogits(int[][])}. */
  public float[] nextLogits(int[] sequence) {
    return nextLogits(new int[][] {sequence})[0];
  }

  /** How many calls re-encoded their context from scratch (the first one included). */
  public int prefills() {
    return prefills;
  }

  /**
   * For each sequence, in order, the index of a row of the previous call that it extends by one
   * token, the indices increasing (callers drop finished rows but keep the order); null when some
   * sequence has none. Rows with equal tokens have equal cached keys, so which one matches does not
   * matter.
   */
  private int[] rowsExtendedByOne(int[][] sequences) {
    if (seen == null || length() == 0) {
      return null;
    }
    int[] rows = new int[sequences.length];
    int j = 0;
    for (int i = 0; i < sequences.length; i++) {
      while (j < seen.length && !extendsByOne(sequences[i], seen[j])) {
        j++;
      }
      if (j == seen.length) {
        return null;
      }
      rows[i] = j++;
    }
    return rows;
  }

  private static boolean extendsByOne(int[] now, int[] old) {
    return now.length == old.length + 1 && Arrays.equals(now, 0, old.length, old, 0, old.length);
  }

  private static boolean isIdentity(int[] rows) {
    for (int i = 0; i < rows.length; i++) {
      if (rows[i] != i) {
        return false;
      }
    }
    return true;
  }

  @Override
  public void close() {
    try {
      cache.close();
    } finally {
      manager.close();
    }
  }
}
