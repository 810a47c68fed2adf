package dev.distill.trainer.evaluation;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A condition a scheduled pipeline gates on, e.g. {@code student.val_loss <= teacher.val_loss +
 * 0.15}. Each side is a sum or difference of numbers and metric names; metric names are looked up
 * in a flat map such as {@code teacher.val_loss}, {@code students.kd-student.top1_agreement}, or
 * {@code student.val_loss} (the primary student). An unknown name is an error, never a pass.
 */
public final class Gate {
  private static final Pattern COMPARISON = Pattern.compile("^(.+?)\\s*(<=|>=|==|!=|<|>)\\s*(.+)$");
  private static final Pattern TERM =
      Pattern.compile(
          "\\s*([+-])?\\s*([0-9]*\\.?[0-9]+(?:[eE][+-]?[0-9]+)?|[A-Za-z_][\\w.-]*)\\s*");

  private final String text;
  private final List<Term> left;
  private final String op;
  private final List<Term> right;

  private record Term(double sign, Double number, String name) {}

  /** The outcome, with the values it compared, for logs and reports. */
  public record Outcome(String gate, boolean passed, double left, double right) {
    @Override
    public String toString() {
      return (passed ? "PASS " : "FAIL ") + gate + "  (" + left + " vs " + right + ")";
    }
  }

  private Gate(String text, List<Term> left, String op, List<Term> right) {
    this.text = text;
    this.left = left;
    this.op = op;
    this.right = right;
  }

  /** Parses a gate; a malformed one fails with the text in the message. */
  public static Gate parse(String text) {
    Matcher m = COMPARISON.matcher(text.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "gate '" + text + "' needs a comparison (<=, >=, <, >, ==, !=)");
    }
    return new Gate(text.trim(), terms(m.group(1), text), m.group(2), terms(m.group(3), text));
  }

  private static List<Term> terms(String side, String text) {
    List<Term> out = new ArrayList<>();
    Matcher m = TERM.matcher(side);
    int at = 0;
    while (at < side.length()) {
      if (!m.find(at) || m.start() != at) {
        throw new IllegalArgumentException(
            "gate '" + text + "': cannot read '" + side.substring(at) + "'");
      }
      if (!out.isEmpty() && m.group(1) == null) {
        throw new IllegalArgumentException(
            "gate '" + text + "': missing + or - before " + m.group(2));
      }
      double sign = "-".equals(m.group(1)) ? -1 : 1;
      String tok = m.group(2);
      if (Character.isDigit(tok.charAt(0)) || tok.charAt(0) == '.') {
        out.add(new Term(sign, Double.parseDouble(tok), null));
      } else {
        out.add(new Term(sign, null, tok));
      }
      at = m.end();
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("gate '" + text + "': empty side");
    }
    return out;
  }

  public Outcome evaluate(Map<String, Double> metrics) {
    double l = value(left, metrics);
    double r = value(right, metrics);
    boolean ok =
        switch (op) {
          case "<=" -> l <= r;
          case ">=" -> l >= r;
          case "<" -> l < r;
          case ">" -> l > r;
          case "==" -> l == r;
          default -> l != r;
        };
    return new Outcome(text, ok, l, r);
  }

  private double value(List<Term> terms, Map<String, Double> metrics) {
    double sum = 0;
    for (Term t : terms) {
      double v;
      if (t.number() != null) {
        v = t.number();
      } else {
        Double x = metrics.get(t.name());
        if (x == null) {
          throw new IllegalArgumentException(
              "gate '"
                  + text
                  + "': unknown metric '"
                  + t.name()
                  + "'; known: "
                  + new java.util.TreeSet<>(metrics.keySet()));
        }
        v = x;
      }
      sum += t.sign() * v;
    }
    return sum;
  }
}
