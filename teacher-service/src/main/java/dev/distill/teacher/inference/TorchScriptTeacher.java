package dev.distill.teacher.inference;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import dev.distill.models.tokenizer.HfTokenizer;
import dev.distill.schemas.avro.Provenance;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.apache.commons.codec.digest.DigestUtils;

/**
 * A teacher as users bring one: a TorchScript causal language model ({@code model.pt}: int64 ids
 * {@code (B, T)} to float logits {@code (B, T, V)}) and its Hugging Face {@code tokenizer.json}
 * (with {@code tokenizer_config.json} and {@code special_tokens_map.json} when present, read by
 * {@link HfTokenizer}), in one folder, run by DJL's PyTorch engine. Soft labels are exact from the
 * logits and rationales are sampled from it as by every {@link InProcessTeacher}. The provenance
 * carries the model file's sha256 and the tokenizer's id and sha256.
 */
public final class TorchScriptTeacher extends InProcessTeacher {
  public static final String MODEL_FILE = "model.pt";
  public static final String TOKENIZER_FILE = "tokenizer.json";

  private final Model model;
  private final HfTokenizer tokenizer;
  private final Scripted scripted = new Scripted();
  private final SoftLabeler labeler;
  private final int contextTokens;
  private final int vocabSize;
  private final Provenance provenance;

  /**
   * @param dir folder with {@value #MODEL_FILE} and {@value #TOKENIZER_FILE}
   * @param contextTokens the model's context length (longest input)
   */
  public TorchScriptTeacher(String teacherId, Path dir, LabelingConfig config, int contextTokens)
      throws IOException {
    super("TorchScript");
    Path pt = dir.resolve(MODEL_FILE);
    Path tok = dir.resolve(TOKENIZER_FILE);
    for (Path p : List.of(pt, tok)) {
      if (!Files.isRegularFile(p)) {
        throw new IOException("TorchScript teacher folder " + dir + " has no " + p.getFileName());
      }
    }
    if (contextTokens < 1) {
      throw new IllegalArgumentException("contextTokens must be >= 1");
    }
    this.contextTokens = contextTokens;
    this.tokenizer = HfTokenizer.load(dir);
    this.model = Model.newInstance("teacher", Device.cpu(), "PyTorch");
    try {
      model.load(dir, "model");
    } catch (MalformedModelException | RuntimeException e) {
      model.close();
      tokenizer.close();
      throw new IOException("cannot load TorchScript model " + pt + ": " + e.getMessage(), e);
    }
    try (NDManager m = NDManager.newBaseManager()) {
      this.vocabSize = (int) forward(m, new long[][] {{0}}).getShape().get(2);
    }
    this.labeler = new SoftLabeler(scripted, config); // refuses a topK above the vocabulary
    this.provenance =
        TeacherIdentity.provenance(
            teacherId, sha256(pt), tokenizer.id(), tokenizer.sha256(), vocabSize, config);
  }

  private NDArray forward(NDManager manager, long[][] ids) {
    int b = ids.length;
    int t = ids[0].length;
    long[] flat = new long[b * t];
    for (int i = 0; i < b; i++) {
      System.arraycopy(ids[i], 0, flat, i * t, t);
    }
    // Grad mode is per thread in PyTorch and on by default: a teacher builds no graph.
    boolean grad = JniUtils.isGradMode();
    if (grad) {
      JniUtils.setGradMode(false);
    }
    try {
      NDArray x = manager.create(flat, new Shape(b, t));
      NDList out =
          model.getBlock().forward(new ParameterStore(manager, false), new NDList(x), false);
      return out.singletonOrThrow();
    } finally {
      if (grad) {
        JniUtils.setGradMode(true);
      }
    }
  }

  @Override
  public dev.distill.models.tokenizer.Tokenizer tokenizer() {
    return tokenizer;
  }

  @Override
  protected SoftLabeler labeler() {
    return labeler;
  }

  @Override
  protected InProcessModel inProcessModel() {
    return scripted;
  }

  /** Log-softmax at T = 1 of one sequence's logits, {@code (T, V)} row-major (for checks). */
  public synchronized float[] logSoftmax(int[] ids) {
    try (NDManager m = NDManager.newBaseManager()) {
      return scripted.logits(m, new int[][] {ids}).logSoftmax(-1).toFloatArray();
    }
  }

  @Override
  protected Provenance identity() {
    return provenance;
  }

  @Override
  public void close() {
    model.close();
    tokenizer.close();
  }

  /** The TorchScript model and its tokenizer, as labelling and sampling see them. */
  private final class Scripted implements InProcessModel {
    @Override
    public int contextTokens() {
      return contextTokens;
    }

    @Override
    public int vocabSize() {
      return vocabSize;
    }

    @Override
    public NDArray logits(NDManager manager, int[][] ids) {
      long[][] in = new long[ids.length][];
      for (int i = 0; i < ids.length; i++) {
        in[i] = Arrays.stream(ids[i]).asLongStream().toArray();
      }
      return forward(manager, in);
    }

    @Override
    public int[] encode(String text) {
      int[] ids = tokenizer.encode(text);
      for (int id : ids) {
        if (id >= vocabSize) {
          throw new IllegalArgumentException(
              "token id "
                  + id
                  + " of "
                  + tokenizer.id()
                  + " outside the model's vocabulary of "
                  + vocabSize);
        }
      }
      return ids;
    }

    @Override
    public String decode(int[] ids) {
      return tokenizer.decode(ids);
    }
  }

  private static String sha256(Path file) throws IOException {
    try (java.io.InputStream in = Files.newInputStream(file)) {
      return DigestUtils.sha256Hex(in);
    }
  }
}
