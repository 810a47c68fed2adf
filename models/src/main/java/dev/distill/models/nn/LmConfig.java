package dev.distill.models.nn;

/**
 * What every stage needs to know of a causal language model's architecture, whatever its family.
 */
public interface LmConfig {

  /** Rows of the token embedding (and columns of the logits): ids are [0, vocabSize). */
  int vocabSize();

  /** Longest context the model accepts (learned positions, or the RoPE table's length). */
  int blockSize();

  int nLayer();

  /** Number of trainable parameters of the dense model (a tied head counted once). */
  long parameterCount();

  /**
   * Forward FLOPs per token at a full context (Kaplan et al. 2020, arXiv:2001.08361, table 1: 2 per
   * weight of the non-embedding layers, plus attention over the context and the head).
   */
  long flopsPerToken();

  /** The config as a JSON object, as stored in a checkpoint folder's config.json. */
  String toJson();
}
