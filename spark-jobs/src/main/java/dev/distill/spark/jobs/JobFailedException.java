package dev.distill.spark.jobs;

/**
 * A job failed: the message is one plain sentence that says what failed, which file or path, and
 * what to do (issue 14). The cause keeps the stack trace for {@code --verbose} and the log.
 */
public final class JobFailedException extends IllegalStateException {
  public JobFailedException(String message) {
    super(message);
  }

  public JobFailedException(String message, Throwable cause) {
    super(message, cause);
  }
}
