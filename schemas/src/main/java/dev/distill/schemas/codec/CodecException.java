package dev.distill.schemas.codec;

/** Bytes that are not a valid soft-label encoding; the message says where and why. */
public final class CodecException extends RuntimeException {
  public CodecException(String message) {
    super(message);
  }
}
