package dev.distill.trainer.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.distill.models.autograd.Scalars;
import dev.distill.schemas.codec.SoftLabels;
import java.util.HashMap;
import java.util.Map;

/**
 * Cross-tokenizer KD from a <em>character-level</em> teacher to a student with multi-character
 * tokens, along the realised token's characters (issue 15, ask 4). {@link SpanAlignedKd} compares
 * only the first character of the student's next token; with byte-level BPE that is mostly a space
 * at a word start, so it says little about which word comes. Here the teacher's stored labels at
 * the characters of the realised next student token {@code x_1..x_L} (the teacher positions that
 * read the same text) give, by the chain rule, the teacher's probability of a partition of the
 * student's vocabulary into prefix events along that path:
 *
 * <pre>
 *   node m (prefix s_m = x_1..x_m), mass N_m;  N_0 = 1;  D_m = teacher's top-k + tail after s_m
 *   (D_0 corrected for the previous student token's boundary, SpanAlignedKd.BoundaryRates)
 *   beta(s, c) = P(the student token is exactly s | it starts with s and c follows), 0 when s is
 *   not a token; pooled beta(s) for the tail (BoundaryRates)
 *     X(m)    "v = s_m"                  N_m * (sum_c D_m(c) beta(s_m, c) + tail_m beta(s_m))
 *     E(m, c) "v starts with s_m c"      N_m * D_m(c) * (1 - beta(s_m, c)),  c in top-k, c != x_m+1
 *     R(m)    "v starts with s_m, then a character outside the top-k"  N_m * tail_m (1 - beta(s_m))
 *     N_m+1 = N_m * D_m(x_m+1) * (1 - beta(s_m, x_m+1))
 *   leaf M: "v starts with s_M", mass N_M; M = L, or the first level whose label lies outside the
 *   window (the path stops there) or whose D_m has x_m+1 in its tail (then R(m) holds the path)
 *   student: Q(bucket) = sum of softmax(z / T) over the student ids in the bucket
 *   loss = T^2 * mean over student positions (mask 1) of D(teacher buckets, student buckets)
 * </pre>
 *
 * The masses sum to 1 at every node. A bucket that no student token falls into gives its mass to
 * X(m) (no longer token continues s_m, so the token must end there) or, when s_m is no token, is
 * dropped and the row renormalised. The teacher's probabilities off the realised path are
 * summarised by their first differing character (they were never computed), as the labels store
 * only the path's positions. Approximations: those of {@link SpanAlignedKd.BoundaryRates}.
 */
public final class TokenPathKd {
  private TokenPathKd() {}

  /** One student position's buckets: teacher masses (C), the vocabulary sorted by bucket. */
  public record Path(float[] teacher, int[] perm, int[] starts, int[] ends) {
    public int buckets() {
      return teacher.length;
    }
  }

  /** The student's vocabulary texts, with a lookup from text to id. */
  public static final class Vocabulary {
    private final String[] texts;
    private final Map<String, Integer> byText = new HashMap<>();

    public Vocabulary(String[] texts) {
      this.texts = texts.clone();
      for (int id = 0; id < texts.length; id++) {
        if (!texts[id].isEmpty()) {
          byText.putIfAbsent(texts[id], id);
        }
      }
    }

    public int size() {
      return texts.length;
    }

    public String text(int id) {
      return texts[id];
    }

    /** The first id whose text is {@code s}, or -1. */
    public int id(String s) {
      return byText.getOrDefault(s, -1);
    }
  }

  /**
   * The buckets of the student position that predicts student token {@code next}, whose text starts
   * at character {@code offset} of the example (teacher position {@code offset - 1} predicts that
   * character).
   *
   * @param teacherChars the character of every teacher id (a character-level teacher)
   * @param previous the student token before {@code next} (its boundary corrects D_0), or -1
   * @return null when the teacher has no label at {@code offset - 1}
   */
  public static Path path(
      Vocabulary vocab,
      char[] teacherChars,
      SpanAlignedKd.Buckets columns,
      SpanAlignedKd.BoundaryRates rates,
      SoftLabels labels,
      int offset,
      int next,
      int previous) {
    String x = vocab.text(next);
    int len = x.length();
    int k = labels.k();
    if (rates == null) {
      throw new IllegalArgumentException("token paths need the student's boundary rates");
    }
    if (offset < 1 || offset - 1 >= labels.positions() || len == 0) {
      return null;
    }
    // bucket ids: per level m, E(m, j) = base + j for top-k slot j, R(m) = base + k, X(m) =
    // base + k + 1; the leaf is the last id
    int per = k + 2;
    int levels = 0;
    boolean inTail = false;
    int[][] topChar = new int[len][];
    float[] mass = new float[len * per + 1];
    double node = 1;
    for (int m = 0; m < len; m++) {
      int tp = offset - 1 + m;
      if (tp >= labels.positions()) {
        break;
      }
      float[] d = new float[k];
      topChar[m] = new int[k];
      for (int j = 0; j < k; j++) {
        topChar[m][j] = teacherChars[labels.id(tp, j)];
        d[j] = Math.max(0f, labels.prob(tp, j));
      }
      float tail = Math.max(0f, labels.tail(tp));
      if (m == 0 && previous >= 0) {
        float[] row = new float[columns.size()];
        for (int j = 0; j < k; j++) {
          row[columns.column((char) topChar[0][j])] += d[j];
        }
        float[] before = row.clone();
        tail = rates.correct(previous, row, tail);
        for (int j = 0; j < k; j++) {
          int col = columns.column((char) topChar[0][j]);
          d[j] = before[col] > 0 ? d[j] * row[col] / before[col] : 0f;
        }
      }
      int s = m == 0 ? -1 : vocab.id(x.substring(0, m));
      int base = m * per;
      double ended = 0;
      int realised = -1;
      for (int j = 0; j < k; j++) {
        float beta = s < 0 ? 0f : rates.rate(s, columns.column((char) topChar[m][j]));
        if (topChar[m][j] == x.charAt(m) && realised < 0) {
          realised = j;
          ended += node * d[j] * beta;
        } else {
          mass[base + j] = (float) (node * d[j] * (1 - beta));
          ended += node * d[j] * beta;
        }
      }
      float pooled = s < 0 ? 0f : rates.pooled(s);
      mass[base + k] = (float) (node * tail * (1 - pooled));
      ended += node * tail * pooled;
      mass[base + k + 1] = (float) ended;
      levels = m + 1;
      if (realised < 0) {
        inTail = true; // the path continues inside R(m)
        break;
      }
      float beta = s < 0 ? 0f : rates.rate(s, columns.column(x.charAt(m)));
      node *= d[realised] * (1 - beta);
    }
    if (levels == 0) {
      return null;
    }
    int leaf = len * per;
    if (!inTail) {
      mass[leaf] = (float) node;
    }
    // each student id's bucket
    int v = vocab.size();
    int[] bucket = new int[v];
    for (int id = 0; id < v; id++) {
      String t = vocab.text(id);
      int l = 0;
      while (l < t.length() && l < len && t.charAt(l) == x.charAt(l)) {
        l++;
      }
      if (t.isEmpty()) {
        bucket[id] = k; // R(0): no teacher event describes an empty token
      } else if (!inTail && l >= levels) {
        bucket[id] = leaf;
      } else if (inTail && l >= levels) {
        bucket[id] = (levels - 1) * per + k; // the path's own continuation, in R(levels - 1)
      } else if (l == t.length()) {
        bucket[id] = l * per + k + 1; // X(l): the token is s_l
      } else {
        int slot = -1;
        for (int j = 0; j < k; j++) {
          if (topChar[l][j] == t.charAt(l) && t.charAt(l) != x.charAt(l)) {
            slot = j;
            break;
          }
        }
        bucket[id] = l * per + (slot < 0 ? k : slot);
      }
    }
    // buckets without student ids give their mass to X(m), else it is dropped
    int[] count = new int[mass.length];
    for (int b : bucket) {
      count[b]++;
    }
    for (int b = 0; b < leaf; b++) {
      if (count[b] == 0 && mass[b] > 0) {
        int x0 = (b / per) * per + k + 1;
        if (x0 != b && count[x0] > 0) {
          mass[x0] += mass[b];
        }
        mass[b] = 0;
      }
    }
    // keep the buckets that hold student ids; sort the vocabulary by bucket
    int[] dense = new int[mass.length];
    int c = 0;
    for (int b = 0; b < mass.length; b++) {
      dense[b] = count[b] > 0 ? c++ : -1;
    }
    float[] teacher = new float[c];
    int[] starts = new int[c];
    int[] ends = new int[c];
    double z = 0;
    for (int b = 0; b < mass.length; b++) {
      if (dense[b] >= 0) {
        teacher[dense[b]] = mass[b];
        z += mass[b];
        ends[dense[b]] = count[b];
      }
    }
    if (!(z > 0)) {
      return null;
    }
    for (int i = 0; i < c; i++) {
      teacher[i] = (float) (teacher[i] / z);
    }
    int run = 0;
    for (int i = 0; i < c; i++) {
      starts[i] = run;
      run += ends[i];
      ends[i] = run;
    }
    int[] fill = starts.clone();
    int[] perm = new int[v];
    for (int id = 0; id < v; id++) {
      perm[fill[dense[bucket[id]]]++] = id;
    }
    return new Path(teacher, perm, starts, ends);
  }

  /**
   * A batch of paths on the device.
   *
   * @param positions (B, N) int64, the student position of each path
   * @param perm (B, N, V_s) int64, the vocabulary sorted by bucket ({@link Path#perm})
   * @param starts (B, N, C) int64, first index of each bucket in {@code perm}; padding: start = end
   * @param ends (B, N, C) int64, one past the last
   * @param teacher (B, N, C) float32, the teacher's bucket masses (padding 0)
   */
  public record Arrays(
      NDArray positions, NDArray perm, NDArray starts, NDArray ends, NDArray teacher) {}

  /**
   * The per-position divergence (B, N) between the teacher's buckets and the student's, not scaled
   * and not masked.
   *
   * @param studentLogits (B, T_s, V_s)
   */
  public static NDArray perPosition(
      Divergence divergence, NDArray studentLogits, Arrays a, float temperature) {
    LossOps.checkTemperature(temperature);
    Shape s = studentLogits.getShape();
    Shape n = a.positions().getShape();
    Shape c = a.teacher().getShape();
    if (s.dimension() != 3
        || n.dimension() != 2
        || n.get(0) != s.get(0)
        || !a.perm().getShape().equals(new Shape(n.get(0), n.get(1), s.get(2)))
        || !c.equals(new Shape(n.get(0), n.get(1), c.get(2)))
        || !a.starts().getShape().equals(c)
        || !a.ends().getShape().equals(c)) {
      throw new IllegalArgumentException(
          "shapes disagree: logits "
              + s
              + ", positions "
              + n
              + ", perm "
              + a.perm().getShape()
              + ", starts / ends "
              + a.starts().getShape()
              + " / "
              + a.ends().getShape()
              + ", teacher "
              + c);
    }
    NDArray idx = a.positions().expandDims(2).repeat(2, s.get(2)); // (B, N, V_s)
    NDArray q = LossOps.logProbs(studentLogits, temperature).gather(idx, 1).exp();
    // bucket sums as differences of a running sum over the vocabulary sorted by bucket
    NDArray sorted = q.gather(a.perm(), 2);
    NDArray cum =
        studentLogits
            .getManager()
            .zeros(new Shape(n.get(0), n.get(1), 1))
            .concat(sorted.cumSum(2), 2); // (B, N, V_s + 1)
    NDArray qb = Scalars.maximum(cum.gather(a.ends(), 2).sub(cum.gather(a.starts(), 2)), 0f);
    return SpanAlignedKd.bucketDivergence(divergence, a.teacher(), qb);
  }

  /** {@code T^2} times the masked mean of {@link #perPosition}: a scalar float32. */
  public static NDArray loss(
      Divergence divergence, NDArray studentLogits, Arrays a, NDArray mask, float temperature) {
    return Scalars.mul(
        LossOps.maskedMean(perPosition(divergence, studentLogits, a, temperature), mask),
        temperature * temperature);
  }
}
