package dev.distill.schemas.validation;

/**
 * One reason a record is invalid, with a detail that names the position or field.
 *
 * @param reason the stable reason code
 * @param detail human-readable detail, e.g. "position 3: id 70 >= vocab 65"
 */
public record Violation(Reason reason, String detail) {
  @Override
  public String toString() {
    return reason + ": " + detail;
  }
}
