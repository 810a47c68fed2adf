package dev.distill.teacher.http;

/**
 * A request error, answered by {@link HttpTransport} with its status and our JSON error body {@code
 * {"error": {"message": ..., "code": status}}}.
 */
final class ApiError extends Exception {
  final int status;

  /** The {@code Allow} header of a 405; null otherwise. */
  final String allow;

  ApiError(int status, String message) {
    this(status, message, null);
  }

  private ApiError(int status, String message, String allow) {
    super(message);
    this.status = status;
    this.allow = allow;
  }

  /** 405 naming the one method the endpoint takes, in the message and in {@code Allow}. */
  static ApiError methodNotAllowed(String allowed) {
    return new ApiError(405, "use " + allowed, allowed);
  }
}
