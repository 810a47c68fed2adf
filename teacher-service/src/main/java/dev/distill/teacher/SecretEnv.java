package dev.distill.teacher;

import java.util.function.UnaryOperator;

/**
 * Reads a secret from the environment variable named by a {@code --*-env} option. Never fails open:
 * naming a variable means "use this secret", so a variable that is unset or empty refuses to start,
 * with a message naming the option and the variable (never a value), instead of silently running
 * without the secret (issue 17: {@code --http-token-env UNSET} used to serve without auth).
 */
final class SecretEnv {
  private SecretEnv() {}

  /**
   * @param option the command-line option, e.g. {@code --http-token-env}
   * @param variable the variable it names; null when the option was not given
   * @param env the environment ({@code System::getenv} in production)
   * @return the secret, or null when the option was not given
   * @throws IllegalArgumentException the variable is unset or empty
   */
  static String read(String option, String variable, UnaryOperator<String> env) {
    if (variable == null) {
      return null;
    }
    if (variable.isBlank()) {
      throw new IllegalArgumentException(option + " needs the name of an environment variable");
    }
    String value = env.apply(variable);
    if (value == null) {
      throw new IllegalArgumentException(
          option
              + " names environment variable "
              + variable
              + ", which is not set: set it to the secret, or drop "
              + option);
    }
    if (value.isBlank()) {
      throw new IllegalArgumentException(
          option
              + " names environment variable "
              + variable
              + ", which is empty: set it to the secret, or drop "
              + option);
    }
    return value;
  }
}
