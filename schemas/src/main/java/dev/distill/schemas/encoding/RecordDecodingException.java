package dev.distill.schemas.encoding;

/**
 * A message that cannot be turned into a record. Never retriable: the same bytes fail the same way,
 * so callers quarantine the message with {@link #kind()} as the reason.
 */
public final class RecordDecodingException extends RuntimeException {
  /** What went wrong, as a stable code for quarantine tables and DLQ headers. */
  public enum Kind {
    NOT_SINGLE_OBJECT_ENCODING,
    UNKNOWN_SCHEMA_FINGERPRINT,
    CORRUPT_BODY
  }

  private final Kind kind;

  public RecordDecodingException(Kind kind, String message, Throwable cause) {
    super(kind + ": " + message, cause);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }
}
