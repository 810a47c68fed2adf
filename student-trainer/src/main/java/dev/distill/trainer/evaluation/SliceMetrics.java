package dev.distill.trainer.evaluation;

import dev.distill.schemas.evaluation.LengthBuckets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Student-vs-teacher quality per slice (issue 6: "per slice (task, length bucket)"): every example
 * belongs to a task (e.g. {@code shakespeare}, {@code arithmetic}) and to the length bucket of its
 * scored positions. Each slice reports loss (nats per token), top-1 agreement with the teacher,
 * forward KL(teacher || model) and expected calibration error, every mean weighted by tokens (a
 * slice's sum over its positions divided by its position count, so a long example counts for more
 * than a short one, as in the overall numbers).
 *
 * <p>The buckets are {@link LengthBuckets}, shared with spark-jobs' {@code EvalJob} (default {@code
 * --length-buckets 64,256,1024}): edges ascending, buckets {@code [0,e0)}, {@code [e0,e1)}, ...,
 * {@code [eN,inf)}, a record's length being its number of scored positions.
 */
public final class SliceMetrics {
  /** EvalJob's default {@code --length-buckets}. */
  public static final int[] LENGTH_BUCKETS = {64, 256, 1024};

  /** The bucket value of a task's row over all lengths. */
  public static final String ALL = "all";

  /**
   * One slice of one model.
   *
   * @param model model name
   * @param task task of the examples
   * @param lengthBucket a bucket such as {@code [64,256)}, or {@link #ALL}
   * @param examples examples in the slice
   * @param tokens scored positions in the slice
   * @param loss cross-entropy of the true next token, nats per token
   * @param top1Agreement share of positions whose argmax equals the teacher's
   * @param forwardKl mean KL(teacher || model) per position, nats
   * @param ece expected calibration error of the model's top-1 confidence
   */
  public record Row(
      String model,
      String task,
      String lengthBucket,
      long examples,
      long tokens,
      double loss,
      double top1Agreement,
      double forwardKl,
      double ece) {}

  /**
   * Per-position numbers of one scored example, all arrays of one length (its positions).
   *
   * @param task task of the example
   * @param nll cross-entropy of the true next token at each position
   * @param forwardKl KL(teacher || model) at each position
   * @param agrees whether the model's argmax equals the teacher's
   * @param confidence probability of the model's argmax
   * @param correct whether the model's argmax is the true next token
   */
  public record Example(
      String task,
      double[] nll,
      double[] forwardKl,
      boolean[] agrees,
      double[] confidence,
      boolean[] correct) {
    public Example {
      Objects.requireNonNull(task, "task");
      int n = nll.length;
      if (n == 0) {
        throw new IllegalArgumentException("example of task " + task + " has no positions");
      }
      if (forwardKl.length != n
          || agrees.length != n
          || confidence.length != n
          || correct.length != n) {
        throw new IllegalArgumentException(
            "example of task " + task + ": per-position arrays differ in length");
      }
    }

    public int positions() {
      return nll.length;
    }
  }

  private SliceMetrics() {}

  /** Collects one model's examples into slices. */
  public static final class Accumulator {
    private final String model;
    private final int[] edges;
    // task -> bucket index (-1 = all lengths, then ascending buckets) -> sums
    private final Map<String, TreeMap<Integer, Sums>> slices = new LinkedHashMap<>();

    /**
     * @param model model name on every row
     * @param edges ascending, positive bucket edges
     */
    public Accumulator(String model, int[] edges) {
      this.model = Objects.requireNonNull(model, "model");
      for (int i = 0; i < edges.length; i++) {
        if (edges[i] <= 0 || (i > 0 && edges[i] <= edges[i - 1])) {
          throw new IllegalArgumentException(
              "length buckets must be positive and ascending: " + Arrays.toString(edges));
        }
      }
      this.edges = edges.clone();
    }

    public String model() {
      return model;
    }

    public void add(Example e) {
      TreeMap<Integer, Sums> byBucket = slices.computeIfAbsent(e.task(), k -> new TreeMap<>());
      byBucket.computeIfAbsent(-1, k -> new Sums()).add(e);
      byBucket.computeIfAbsent(LengthBuckets.index(e.positions(), edges), k -> new Sums()).add(e);
    }

    /** Per task (in the order first seen): the all-lengths row, then each non-empty bucket. */
    public List<Row> rows() {
      List<Row> out = new ArrayList<>();
      for (Map.Entry<String, TreeMap<Integer, Sums>> t : slices.entrySet()) {
        for (Map.Entry<Integer, Sums> b : t.getValue().entrySet()) {
          Sums s = b.getValue();
          out.add(
              new Row(
                  model,
                  t.getKey(),
                  b.getKey() < 0 ? ALL : LengthBuckets.label(b.getKey(), edges),
                  s.examples,
                  s.tokens,
                  s.nll / s.tokens,
                  (double) s.agree / s.tokens,
                  s.kl / s.tokens,
                  s.calibration.build().ece()));
        }
      }
      return out;
    }
  }

  private static final class Sums {
    long examples;
    long tokens;
    double nll;
    double kl;
    long agree;
    final Calibration.Builder calibration = new Calibration.Builder(10);

    void add(Example e) {
      examples++;
      tokens += e.positions();
      for (int i = 0; i < e.positions(); i++) {
        nll += e.nll()[i];
        kl += e.forwardKl()[i];
        agree += e.agrees()[i] ? 1 : 0;
        calibration.add(e.confidence()[i], e.correct()[i]);
      }
    }
  }
}
