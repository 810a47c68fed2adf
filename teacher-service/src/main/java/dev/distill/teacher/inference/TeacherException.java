package dev.distill.teacher.inference;

/** A teacher could not label a request. */
public final class TeacherException extends Exception {
  private final boolean retryable;

  public TeacherException(String message, boolean retryable, Throwable cause) {
    super(message, cause);
    this.retryable = retryable;
  }

  public TeacherException(String message, boolean retryable) {
    this(message, retryable, null);
  }

  /** True for transient failures (timeouts, 5xx, 429); false for bad input or a mismatch. */
  public boolean retryable() {
    return retryable;
  }
}
