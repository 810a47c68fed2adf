package dev.distill.trainer.io;

/**
 * Curated data that breaks the data contract (docs/architecture.md "Data contracts"): missing
 * {@code _SUCCESS}, an unreadable file, a tokenizer that differs from the student's, records that
 * mix teachers or temperatures. The message names the folder, file or record involved.
 */
public final class DataContractException extends RuntimeException {
  public DataContractException(String message) {
    super(message);
  }

  public DataContractException(String message, Throwable cause) {
    super(message, cause);
  }
}
