package dev.distill.models.checkpoint;

/** A checkpoint folder that is incomplete, tampered with, or not a checkpoint. */
public final class CheckpointException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  public CheckpointException(String message) {
    super(message);
  }

  public CheckpointException(String message, Throwable cause) {
    super(message, cause);
  }
}
