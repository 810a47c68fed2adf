package dev.distill.teacher.inference;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.avro.Rationale;
import dev.distill.schemas.codec.SoftLabelCodec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A teacher as users bring one: a TorchScript causal language model ({@code model.pt}: int64 ids
 * {@code (B, T)} to float logits {@code (B, T, V)}) and its Hugging Face {@code tokenizer.json},
 * both in one folder, run by DJL's PyTorch engine. Soft labels are exact from the logits ({@link
 * SoftLabeler#fromLogits}). The provenance hashes both files.
 */
public final class TorchScriptTeacher implements Teacher {
  public static final String MODEL_FILE = "model.pt";
  public static final String TOKENIZER_FILE = "tokenizer.json";

  private final Model model;
  private final HuggingFaceTokenizer tokenizer;
  private final LabelingConfig config;
  private final int contextTokens;
  private final int vocabSize;
  private final Provenance provenance;

  /**
   * @param dir folder with {@value #MODEL_FILE} and {@value #TOKENIZER_FILE}
   * @param contextTokens the model's context length (longest input)
   */
  public TorchScriptTeacher(String teacherId, Path dir, LabelingConfig config, int contextTokens)
      throws IOException {
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
    this.config = config;
    this.contextTokens = contextTokens;
    this.tokenizer = HuggingFaceTokenizer.newInstance(tok, Map.of("addSpecialTokens", "false"));
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
    if (config.topK() > vocabSize) {
      throw new IllegalArgumentException(
          "topK " + config.topK() + " exceeds vocabulary " + vocabSize);
    }
    this.provenance =
        Provenance.newBuilder()
            .setTeacherId(teacherId)
            .setTeacherSha256(sha256(pt))
            .setTokenizerId("hf:" + TOKENIZER_FILE)
            .setTokenizerSha256(sha256(tok))
            .setVocabSize(vocabSize)
            .setTemperature(config.temperature())
            .setTopK(config.topK())
            .setCodec(SoftLabelCodec.NAME)
            .setCodecVersion(SoftLabelCodec.VERSION)
            .setSchemaVersion(TeacherIdentity.SCHEMA_VERSION)
            .setRetemperatured(false)
            .build();
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
  public synchronized List<LabeledSequence> label(List<int[]> sequences) throws TeacherException {
    Map<Integer, List<Integer>> byLength = new LinkedHashMap<>();
    for (int i = 0; i < sequences.size(); i++) {
      int len = sequences.get(i).length;
      if (len < 2 || len > maxSequenceTokens()) {
        throw new TeacherException(
            "sequence " + i + " has " + len + " tokens, outside [2, " + maxSequenceTokens() + "]",
            false);
      }
      byLength.computeIfAbsent(len, k -> new ArrayList<>()).add(i);
    }
    LabeledSequence[] out = new LabeledSequence[sequences.size()];
    try {
      for (List<Integer> idx : byLength.values()) {
        for (int from = 0; from < idx.size(); from += config.batchSize()) {
          List<Integer> part = idx.subList(from, Math.min(idx.size(), from + config.batchSize()));
          List<int[]> batch = new ArrayList<>(part.size());
          long[][] inputs = new long[part.size()][];
          for (int j = 0; j < part.size(); j++) {
            int[] seq = sequences.get(part.get(j));
            batch.add(seq);
            inputs[j] = Arrays.stream(seq, 0, seq.length - 1).asLongStream().toArray();
          }
          try (NDManager m = NDManager.newBaseManager()) {
            List<LabeledSequence> labelled =
                SoftLabeler.fromLogits(forward(m, inputs), batch, config);
            for (int j = 0; j < part.size(); j++) {
              out[part.get(j)] = labelled.get(j);
            }
          }
        }
      }
    } catch (RuntimeException e) {
      throw new TeacherException("TorchScript forward failed: " + e.getMessage(), true, e);
    }
    return Arrays.asList(out);
  }

  @Override
  public boolean samplesRationales() {
    return true;
  }

  /** {@link RationaleSampler} on the TorchScript model: n samples per prompt in one batch. */
  @Override
  public synchronized List<List<Rationale>> sampleRationales(
      List<String> prompts, RationaleConfig rc, Random rng) throws TeacherException {
    RationaleSampler.Model m =
        new RationaleSampler.Model() {
          @Override
          public int[] encode(String text) {
            return TorchScriptTeacher.this.encode(text);
          }

          @Override
          public String decode(int[] ids) {
            return TorchScriptTeacher.this.decode(ids);
          }

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
          public List<LabeledSequence> label(List<int[]> sequences) {
            try {
              return TorchScriptTeacher.this.label(sequences);
            } catch (TeacherException e) {
              // Back to a TeacherException below, keeping whether a retry may help.
              throw e.retryable()
                  ? new IllegalStateException(e.getMessage(), e)
                  : new IllegalArgumentException(e.getMessage(), e);
            }
          }
        };
    try {
      return new RationaleSampler(m, rc).sampleAll(prompts, rng);
    } catch (IllegalArgumentException e) {
      throw new TeacherException(e.getMessage(), false, e);
    } catch (RuntimeException e) {
      throw new TeacherException("rationale sampling failed: " + e.getMessage(), true, e);
    }
  }

  /** Log-softmax at T = 1 of one sequence's logits, {@code (T, V)} row-major (for checks). */
  public synchronized float[] logSoftmax(int[] ids) {
    try (NDManager m = NDManager.newBaseManager()) {
      long[][] in = {Arrays.stream(ids).asLongStream().toArray()};
      return forward(m, in).logSoftmax(-1).toFloatArray();
    }
  }

  @Override
  public int maxSequenceTokens() {
    return contextTokens + 1;
  }

  @Override
  public int[] encode(String text) {
    long[] ids = tokenizer.encode(text, false, false).getIds();
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= vocabSize) {
        throw new IllegalArgumentException(
            "token id " + ids[i] + " outside the model's vocabulary");
      }
      out[i] = (int) ids[i];
    }
    return out;
  }

  @Override
  public String decode(int[] ids) {
    return tokenizer.decode(Arrays.stream(ids).asLongStream().toArray(), true);
  }

  @Override
  public Provenance provenance() {
    return Provenance.newBuilder(provenance).build();
  }

  @Override
  public void close() {
    model.close();
    tokenizer.close();
  }

  private static String sha256(Path file) throws IOException {
    try {
      return java.util.HexFormat.of()
          .formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
