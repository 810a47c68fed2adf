package dev.distill.deploy.workloads;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The arithmetic chain-of-thought workload of the embedded default: seeded problems with
 * step-by-step rationales, digit by digit from the least significant, with carries (addition,
 * multiplication by one digit) or borrows (subtraction), and the gold answer.
 *
 * <pre>
 * 347+285=          the prompt
 * 7+5+0=12 c1       one line per digit: digits, incoming carry, sum, outgoing carry
 * 4+8+1=13 c1
 * 3+2+1=6 c0
 * A 632.            the answer line; {@link #ANSWER} extracts it
 * </pre>
 */
public final class ArithmeticTask {
  /** Extracts the final answer from generated text. */
  public static final Pattern ANSWER = Pattern.compile("A (-?\\d+)\\.");

  /** One problem. */
  public record Problem(String op, int digits, long a, long b, String rationale, long answer) {
    /** What the model is given. */
    public String prompt() {
      return a + op + b + "=\n";
    }

    /** The answer line, including its terminator. */
    public String answerLine() {
      return "A " + answer + ".\n";
    }

    /** Prompt, rationale and answer: one training example. */
    public String text() {
      return prompt() + rationale + answerLine();
    }

    /** Prompt then the answer directly: the answers-only variant. */
    public String answerOnlyText() {
      return prompt() + answerLine();
    }
  }

  private ArithmeticTask() {}

  /**
   * Problems with operands of {@code minDigits..maxDigits} digits (the second operand of a
   * multiplication has one digit; subtraction keeps a >= b so answers are non-negative).
   */
  public static List<Problem> generate(
      long seed, int count, int minDigits, int maxDigits, List<String> ops) {
    if (minDigits < 1 || maxDigits < minDigits || maxDigits > 9) {
      throw new IllegalArgumentException("digits must satisfy 1 <= min <= max <= 9");
    }
    Random rng = new Random(seed);
    List<Problem> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      String op = ops.get(rng.nextInt(ops.size()));
      int digits = minDigits + rng.nextInt(maxDigits - minDigits + 1);
      long a = number(rng, digits);
      long b = op.equals("*") ? 2 + rng.nextInt(8) : number(rng, digits);
      if (op.equals("-") && b > a) {
        long t = a;
        a = b;
        b = t;
      }
      out.add(solve(op, digits, a, b));
    }
    return out;
  }

  private static long number(Random rng, int digits) {
    long lo = digits == 1 ? 0 : (long) Math.pow(10, digits - 1);
    long hi = (long) Math.pow(10, digits);
    return lo + (long) (rng.nextDouble() * (hi - lo));
  }

  /** Builds the rationale the way a person would write it, digit by digit. */
  public static Problem solve(String op, int digits, long a, long b) {
    StringBuilder r = new StringBuilder();
    long answer;
    switch (op) {
      case "+" -> {
        String x = Long.toString(a);
        String y = Long.toString(b);
        int n = Math.max(x.length(), y.length());
        int carry = 0;
        for (int i = 0; i < n; i++) {
          int dx = digit(x, i);
          int dy = digit(y, i);
          int s = dx + dy + carry;
          r.append(dx).append('+').append(dy).append('+').append(carry).append('=').append(s);
          carry = s / 10;
          r.append(" c").append(carry).append('\n');
        }
        answer = a + b;
      }
      case "-" -> {
        String x = Long.toString(a);
        String y = Long.toString(b);
        int borrow = 0;
        for (int i = 0; i < x.length(); i++) {
          int dx = digit(x, i);
          int dy = digit(y, i);
          int d = dx - dy - borrow;
          int next = d < 0 ? 1 : 0;
          r.append(dx).append('-').append(dy).append('-').append(borrow).append('=');
          r.append(d + 10 * next).append(" b").append(next).append('\n');
          borrow = next;
        }
        answer = a - b;
      }
      case "*" -> {
        String x = Long.toString(a);
        int carry = 0;
        for (int i = 0; i < x.length(); i++) {
          int dx = digit(x, i);
          int p = dx * (int) b + carry;
          r.append(dx).append('*').append(b).append('+').append(carry).append('=').append(p);
          carry = p / 10;
          r.append(" c").append(carry).append('\n');
        }
        answer = a * b;
      }
      default -> throw new IllegalArgumentException("unknown operation " + op);
    }
    return new Problem(op, digits, a, b, r.toString(), answer);
  }

  /** The i-th digit from the right, 0 past the number's length. */
  private static int digit(String s, int i) {
    int at = s.length() - 1 - i;
    return at < 0 ? 0 : s.charAt(at) - '0';
  }

  private static final Pattern STEP =
      Pattern.compile("(\\d)([+*-])(\\d)[+-](\\d)=(\\d+) [cb](\\d)");

  /**
   * The answer a rationale implies, read back from its digit lines (each line's result digit, least
   * significant first, plus the final carry), or null when it cannot be read. Used for
   * faithfulness: does the emitted answer follow from the written steps?
   */
  public static String answerFromRationale(String rationale) {
    StringBuilder digits = new StringBuilder();
    String op = null;
    int carry = 0;
    int lines = 0;
    for (String line : rationale.split("\n")) {
      if (line.isBlank()) {
        continue;
      }
      Matcher m = STEP.matcher(line.trim());
      if (!m.matches()) {
        return null;
      }
      op = m.group(2);
      int result = Integer.parseInt(m.group(5));
      digits.append(result % 10);
      carry = Integer.parseInt(m.group(6));
      lines++;
    }
    if (lines == 0) {
      return null;
    }
    if (!"-".equals(op) && carry > 0) {
      digits.append(carry);
    }
    String s = digits.reverse().toString().replaceFirst("^0+(?=\\d)", "");
    return s;
  }

  /** The answer in generated text, or null when it has none. */
  public static Long extractAnswer(String generated) {
    Matcher m = ANSWER.matcher(generated);
    return m.find() ? Long.parseLong(m.group(1)) : null;
  }
}
