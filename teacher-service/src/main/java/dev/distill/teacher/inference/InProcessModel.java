package dev.distill.teacher.inference;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
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

  /** Our GPT with its own tokenizer. */
  static InProcessModel of(LanguageModel model) {
    return new InProcessModel() {
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
        return model.config().vocabSize();
      }

      @Override
      public NDArray logits(NDManager manager, int[][] ids) {
        return model.logits(manager, ids);
      }
    };
  }
}
