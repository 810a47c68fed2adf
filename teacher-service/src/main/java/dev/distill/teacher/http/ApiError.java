package dev.distill.teacher.http;

/** A request error of an OpenAI-compatible endpoint, answered with its status and message. */
final class ApiError extends Exception {
  final int status;

  ApiError(int status, String message) {
    super(message);
    this.status = status;
  }
}
