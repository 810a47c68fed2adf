package dev.distill.teacher.inference;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.distill.models.generation.CachedDecoder;
import dev.distill.models.gpt.LanguageModel;

/**
 * What soft labelling ({@link SoftLabeler}) and rationale sampling ({@link RationaleSampler}) need
 * of an in-process causal language model: our GPT ({@link #of(LanguageModel)}) or a TorchScript
 * model ({@link TorchScriptTeacher}).
 */
public interface InProcessModel {
  int[] encode(String text);

  String decode(int[] ids);

  /** Longest input the model takes. */
  int contextTokens();

  int vocabSize();

  /** Logits {@code (B, L, V)} of equal-length inputs {@code (B, L)}. */
  NDArray logits(NDManager manager, int[][] ids);

  /**
   * Log-probabilities at T = 1 of the token after each input, {@code (B, V)} row-major: what
   * sampling one more token needs.
   */
  default float[] nextTokenLogprobs(int[][] ids) {
    try (NDManager m = NDManager.newBaseManager()) {
      return logits(m, ids).get(":, -1, :").logSoftmax(-1).toFloatArray();
    }
  }

  /**
   * Next-token log-probabilities of sequences that grow by one token per call (rows may be left
   * out, the others keeping their order): what sampling many tokens needs. Close it after the
   * generation.
   */
  interface Decoding extends AutoCloseable {
    /** As {@link InProcessModel#nextTokenLogprobs}. */
    float[] nextTokenLogprobs(int[][] ids);

    @Override
    void close();
  }

  /**
   * A decoding session; by default each call is a full forward ({@link #nextTokenLogprobs}). Our
   * GPT's runs through a KV cache ({@link CachedDecoder}): the context once, then one position per
   * call.
   */
  default Decoding decoding() {
    return new Decoding() {
      @Override
      public float[] nextTokenLogprobs(int[][] ids) {
        return InProcessModel.this.nextTokenLogprobs(ids);
      }

      @Override
      public void close() {}
    };
  }

  /** Our GPT with its own tokenizer. */
  static InProcessModel of(LanguageModel model) {
    return new InProcessModel() {
      @Override
      public Decoding decoding() {
        CachedDecoder decoder = new CachedDecoder(model);
        return new Decoding() {
          @Override
          public float[] nextTokenLogprobs(int[][] ids) {
            float[][] rows = decoder.nextLogprobs(ids);
            int v = model.vocabSize();
            float[] out = new float[rows.length * v];
            for (int i = 0; i < rows.length; i++) {
              System.arraycopy(rows[i], 0, out, i * v, v);
            }
            return out;
          }

          @Override
          public void close() {
            decoder.close();
          }
        };
      }

      @Override
      public int[] encode(String text) {
        return model.tokenizer().encode(text);
      }

      @Override
      public String decode(int[] ids) {
        return model.tokenizer().decode(ids);
      }

      @Override
      public int contextTokens() {
        return model.config().blockSize();
      }

      @Override
      public int vocabSize() {
        return model.vocabSize();
      }

      @Override
      public NDArray logits(NDManager manager, int[][] ids) {
        return model.logits(manager, ids);
      }
    };
  }
}
