package dev.distill.spark.transforms;

/** Records from different tokenizers, teachers or temperatures would end up in one output. */
public final class MixedProvenanceException extends IllegalStateException {
  public MixedProvenanceException(String message) {
    super(message);
  }
}
