package dev.distill.trainer.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.distill.models.autograd.Scalars;
import dev.distill.models.tokenizer.Tokenizer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Cross-tokenizer KD over character-aligned spans (issue 15, ask 4): teacher and student tokens are
 * mapped by character offsets ({@link CharSpanAlignment}), and at the start of every aligned span
 * the two next-token distributions are merged into one common event space and compared with a
 * {@link Divergence}. Following TRL's GOLD trainer and DSKD (Zhang et al. 2024, arXiv:2406.17328)
 * in comparing the models only where they have read the same text.
 *
 * <h2>Merging probabilities</h2>
 *
 * The two vocabularies share no ids, but every token's text starts with a character. At a span
 * start both models predict the same continuation; we merge each side's token probabilities by the
 * <em>first character</em> of the token's text ({@code decode([id])}; an empty text goes to one
 * "other" bucket), which gives both a distribution over the next character of the same text:
 *
 * <pre>
 *   P(c) = sum of the teacher's top-k probabilities of tokens starting with c   (stored at T)
 *   Q(c) = sum over student ids starting with c of softmax(z / T)             (student)
 *   buckets: the characters C_k the teacher's top-k reaches, plus one rest bucket:
 *     teacher (P(c) for c in C_k, tail),  student (Q(c) for c in C_k, 1 - sum_{c in C_k} Q(c))
 *   loss = T^2 * mean over aligned spans (mask 1) of D(teacher buckets, student buckets)
 * </pre>
 *
 * The approximation: only the first character of the next span is distilled at each span start (not
 * the probability of the whole span's text, which would need the teacher's probability of every
 * realised token, unknown when a token fell into its tail); the teacher's tail is one bucket (as in
 * {@link SparseKd}), so this is a lower bound of the divergence of the full next-character
 * distributions. With a character-level student every student token is one character and {@code Q}
 * is its own softmax.
 */
public final class SpanAlignedKd {
  private SpanAlignedKd() {}

  /**
   * The common event space of two tokenizers: one column per distinct first character of any
   * token's text of either vocabulary, then one "other" column for tokens whose text is empty.
   */
  public static final class Buckets {
    private final Map<Character, Integer> columns;
    private final int[] teacherColumn;
    private final int[] studentColumn;

    private Buckets(Map<Character, Integer> columns, int[] teacherColumn, int[] studentColumn) {
      this.columns = columns;
      this.teacherColumn = teacherColumn;
      this.studentColumn = studentColumn;
    }

    public static Buckets of(Tokenizer teacher, Tokenizer student) {
      return of(texts(teacher), texts(student));
    }

    /** From each vocabulary's token texts ({@code texts[id] = decode([id])}). */
    public static Buckets of(String[] t, String[] s) {
      Map<Character, Integer> cols = new LinkedHashMap<>();
      for (String[] texts : new String[][] {t, s}) {
        for (String x : texts) {
          if (!x.isEmpty()) {
            cols.putIfAbsent(x.charAt(0), cols.size());
          }
        }
      }
      return new Buckets(cols, columnsOf(t, cols), columnsOf(s, cols));
    }

    /** The column of the next character {@code c}: its own, or "other" when no token starts so. */
    public int column(char c) {
      Integer col = columns.get(c);
      return col == null ? columns.size() : col;
    }

    /** Every id's text, {@code decode([id])}. */
    public static String[] texts(Tokenizer tok) {
      String[] out = new String[tok.vocabSize()];
      for (int i = 0; i < out.length; i++) {
        out[i] = tok.decode(new int[] {i});
      }
      return out;
    }

    private static int[] columnsOf(String[] texts, Map<Character, Integer> cols) {
      int[] c = new int[texts.length];
      for (int i = 0; i < texts.length; i++) {
        c[i] = texts[i].isEmpty() ? cols.size() : cols.get(texts[i].charAt(0));
      }
      return c;
    }

    /** Number of columns C (characters plus "other"). */
    public int size() {
      return columns.size() + 1;
    }

    public int teacherColumn(int teacherId) {
      return teacherColumn[teacherId];
    }

    public int studentColumn(int studentId) {
      return studentColumn[studentId];
    }

    /** The (V_s, C) 0/1 matrix that merges the student's probabilities by first character. */
    public NDArray studentMerge(NDManager manager) {
      float[] m = new float[studentColumn.length * size()];
      for (int i = 0; i < studentColumn.length; i++) {
        m[i * size() + studentColumn[i]] = 1f;
      }
      return manager.create(m, new Shape(studentColumn.length, size()));
    }

    /**
     * The teacher's merged probabilities at one position: {@code out[c]} = sum of {@code probs[j]}
     * over top-k ids whose text starts with c.
     */
    public float[] teacherMerged(int[] ids, float[] probs) {
      float[] out = new float[size()];
      for (int j = 0; j < ids.length; j++) {
        out[teacherColumn[ids[j]]] += probs[j];
      }
      return out;
    }
  }

  /**
   * The student's token-boundary rates that correct the teacher's next-character distribution for
   * <em>tokenization bias</em> (Phan et al. 2024, "Understanding and Mitigating Tokenization Bias
   * in Language Models", arXiv:2406.16829). A student position that follows token {@code tau}
   * conditions on more than the text read so far: it knows that {@code tau} ended there, i.e. that
   * the student's tokenizer put a boundary after {@code tau}. A character teacher's {@code P(c |
   * text)} does not know it. With byte-level BPE the difference is large: after the token {@code "
   * th"} the next character is almost never {@code e}, because {@code " the"} is one token, while a
   * character teacher gives {@code e} most of its mass. Bayes' rule gives the target the student
   * can match:
   *
   * <pre>
   *   P(c | text, tau ended) = P(c | text) * beta(tau, c) / Z,   tail' = tail * beta(tau) / Z
   *   beta(tau, c) = P(tau is a whole token | a token starts where tau's text starts, c follows it)
   *                ~ (b(tau, c) + a * beta(tau)) / (n(tau, c) + a),   a = 2
   *   beta(tau)    = (b(tau) + 1) / (n(tau) + 1)                    (pooled over c, for the tail)
   * </pre>
   *
   * where {@code n(tau, c)} counts, in the student's tokenization of the training texts, the token
   * starts followed by {@code tau}'s text and then a character of column {@code c}, and {@code
   * b(tau, c)} those at which the token there is exactly {@code tau}. Approximations: the boundary
   * event is summarised by the last token and the next character (the tokenizer's choice can depend
   * on later characters), and the teacher's probability at the span start is taken as conditioned
   * on the text only (true for a character-level teacher, whose every position is a boundary; a BPE
   * teacher carries its own, uncorrected, boundary bias). For a character-level student every rate
   * is 1 and the correction does nothing.
   */
  public static final class BoundaryRates {
    /** Pseudo-count of the per-character rate's prior (the pooled rate). */
    private static final float PRIOR = 2f;

    private final int columns;
    private final int[] canonical; // id -> the first id with the same text
    private final float[] rate; // (V_s, C)
    private final float[] pooled; // V_s

    private BoundaryRates(int columns, int[] canonical, float[] rate, float[] pooled) {
      this.columns = columns;
      this.canonical = canonical;
      this.rate = rate;
      this.pooled = pooled;
    }

    /**
     * Counts boundaries in the student's tokenizations of {@code texts}.
     *
     * @param studentTexts every student id's text ({@code decode([id])}); empty texts never match
     * @param texts the training texts
     * @param studentIds each text's student tokenization (its token texts concatenate to the text)
     */
    public static BoundaryRates estimate(
        Buckets buckets, String[] studentTexts, List<String> texts, List<int[]> studentIds) {
      int c = buckets.size();
      int v = studentTexts.length;
      Map<String, Integer> byText = new java.util.HashMap<>();
      int longest = 0;
      for (int id = 0; id < v; id++) {
        if (!studentTexts[id].isEmpty()) {
          byText.putIfAbsent(studentTexts[id], id);
          longest = Math.max(longest, studentTexts[id].length());
        }
      }
      long[] n = new long[v * c];
      long[] b = new long[v * c];
      for (int e = 0; e < texts.size(); e++) {
        String text = texts.get(e);
        int[] ids = studentIds.get(e);
        StringBuilder joined = new StringBuilder();
        for (int id : ids) {
          joined.append(studentTexts[id]);
        }
        if (!joined.toString().equals(text)) {
          // a character split over tokens (byte-level BPE): offsets are not per token; not counted
          continue;
        }
        int q = 0;
        for (int id : ids) {
          int end = q + studentTexts[id].length();
          // every vocabulary text that starts at this boundary and is followed by one character
          for (int len = 1; len <= longest && q + len < text.length(); len++) {
            Integer tau = byText.get(text.substring(q, q + len));
            if (tau != null) {
              int cell = tau * c + buckets.column(text.charAt(q + len));
              n[cell]++;
              if (end == q + len) {
                b[cell]++;
              }
            }
          }
          q = end;
        }
      }
      float[] rate = new float[v * c];
      float[] pooled = new float[v];
      for (int tau = 0; tau < v; tau++) {
        long nt = 0;
        long bt = 0;
        for (int col = 0; col < c; col++) {
          nt += n[tau * c + col];
          bt += b[tau * c + col];
        }
        // 1 when tau was never seen or is always a whole token (a character student): no
        // evidence, no correction; above 0 always, so a corrected row never sums to 0
        float prior = (bt + 1f) / (nt + 1f);
        pooled[tau] = prior;
        for (int col = 0; col < c; col++) {
          int cell = tau * c + col;
          rate[cell] = (b[cell] + PRIOR * prior) / (n[cell] + PRIOR);
        }
      }
      int[] canonical = new int[v];
      for (int id = 0; id < v; id++) {
        canonical[id] = byText.getOrDefault(studentTexts[id], id);
      }
      return new BoundaryRates(c, canonical, rate, pooled);
    }

    /** beta(tau, column). */
    public float rate(int tau, int column) {
      return rate[canonical[tau] * columns + column];
    }

    /** beta(tau), the rate pooled over next characters (applied to the teacher's tail). */
    public float pooled(int tau) {
      return pooled[canonical[tau]];
    }

    /**
     * Corrects one span's teacher buckets in place after student token {@code tau}: {@code
     * merged[c] *= beta(tau, c)}, tail times {@code beta(tau)}, renormalised to sum 1.
     *
     * @return the corrected tail
     */
    public float correct(int tau, float[] merged, float tail) {
      double z = tail * pooled(tau);
      for (int col = 0; col < merged.length; col++) {
        merged[col] *= rate(tau, col);
        z += merged[col];
      }
      if (!(z > 0)) {
        throw new IllegalArgumentException("teacher buckets after token " + tau + " sum to 0");
      }
      for (int col = 0; col < merged.length; col++) {
        merged[col] = (float) (merged[col] / z);
      }
      return (float) (tail * pooled(tau) / z);
    }
  }

  /**
   * The host-side inputs of {@link #perSpan} for one sequence (B = 1): one entry per aligned span
   * that both models predict (its first teacher token is not the sequence's first token, nor its
   * first student token, and the teacher has a label there).
   *
   * @param studentPositions N student positions ({@code studentStart - 1})
   * @param teacherMerged N x C, row-major
   * @param teacherTail N
   */
  public record Targets(
      int spans, int columns, long[] studentPositions, float[] teacherMerged, float[] teacherTail) {
    /** (studentPositions (1, N), teacherMerged (1, N, C), teacherTail (1, N)) as arrays. */
    public NDArray[] arrays(NDManager manager) {
      return new NDArray[] {
        manager.create(studentPositions, new Shape(1, spans)),
        manager.create(teacherMerged, new Shape(1, spans, columns)),
        manager.create(teacherTail, new Shape(1, spans))
      };
    }
  }

  /**
   * Builds {@link Targets} from a teacher's soft labels (position p predicts teacher token p + 1)
   * and the aligned spans of the teacher's and the student's tokenizations of the same text.
   */
  public static Targets targets(
      Buckets buckets,
      dev.distill.schemas.codec.SoftLabels teacher,
      List<CharSpanAlignment.Span> spans) {
    return targets(buckets, teacher, spans, null, null);
  }

  /**
   * As {@link #targets(Buckets, dev.distill.schemas.codec.SoftLabels, List)}, each span's teacher
   * buckets corrected by {@link BoundaryRates#correct} after the student token that precedes the
   * span ({@code studentIds[studentStart - 1]}); no correction when {@code rates} is null.
   */
  public static Targets targets(
      Buckets buckets,
      dev.distill.schemas.codec.SoftLabels teacher,
      List<CharSpanAlignment.Span> spans,
      int[] studentIds,
      BoundaryRates rates) {
    int c = buckets.size();
    List<Integer> kept = new java.util.ArrayList<>();
    for (int i = 0; i < spans.size(); i++) {
      CharSpanAlignment.Span sp = spans.get(i);
      if (sp.teacherStart() >= 1
          && sp.studentStart() >= 1
          && sp.teacherStart() - 1 < teacher.positions()) {
        kept.add(i);
      }
    }
    int n = kept.size();
    long[] pos = new long[n];
    float[] merged = new float[n * c];
    float[] tail = new float[n];
    int k = teacher.k();
    for (int i = 0; i < n; i++) {
      CharSpanAlignment.Span sp = spans.get(kept.get(i));
      int tp = sp.teacherStart() - 1;
      pos[i] = sp.studentStart() - 1;
      int[] ids = new int[k];
      float[] probs = new float[k];
      for (int j = 0; j < k; j++) {
        ids[j] = teacher.id(tp, j);
        probs[j] = teacher.prob(tp, j);
      }
      float[] row = buckets.teacherMerged(ids, probs);
      tail[i] = teacher.tail(tp);
      if (rates != null) {
        tail[i] = rates.correct(studentIds[sp.studentStart() - 1], row, tail[i]);
      }
      System.arraycopy(row, 0, merged, i * c, c);
    }
    return new Targets(n, c, pos, merged, tail);
  }

  /**
   * The per-span divergence (B, N), not scaled by {@code T^2} and not masked.
   *
   * @param studentLogits (B, T_s, V_s)
   * @param studentPositions (B, N) int64: the student position predicting each span's first student
   *     token ({@code studentStart - 1})
   * @param teacherMerged (B, N, C) float32: {@link Buckets#teacherMerged} at the teacher position
   *     predicting the span's first teacher token ({@code teacherStart - 1})
   * @param teacherTail (B, N) float32
   * @param studentMerge (V_s, C), {@link Buckets#studentMerge}
   */
  public static NDArray perSpan(
      Divergence divergence,
      NDArray studentLogits,
      NDArray studentPositions,
      NDArray teacherMerged,
      NDArray teacherTail,
      NDArray studentMerge,
      float temperature) {
    LossOps.checkTemperature(temperature);
    Shape s = studentLogits.getShape();
    Shape n = studentPositions.getShape();
    Shape c = teacherMerged.getShape();
    if (s.dimension() != 3
        || n.dimension() != 2
        || n.get(0) != s.get(0)
        || !c.equals(new Shape(n.get(0), n.get(1), c.get(2)))
        || !teacherTail.getShape().equals(n)
        || !studentMerge.getShape().equals(new Shape(s.get(2), c.get(2)))) {
      throw new IllegalArgumentException(
          "shapes disagree: logits "
              + s
              + ", positions "
              + n
              + ", teacherMerged "
              + c
              + ", tail "
              + teacherTail.getShape()
              + ", studentMerge "
              + studentMerge.getShape());
    }
    NDArray idx = studentPositions.expandDims(2).repeat(2, s.get(2)); // (B, N, V_s)
    NDArray q = LossOps.logProbs(studentLogits, temperature).gather(idx, 1).exp(); // (B, N, V_s)
    NDArray qc = q.matMul(LossOps.f32(studentMerge)); // (B, N, C)
    NDArray p = Scalars.maximum(LossOps.f32(teacherMerged), 0f);
    NDArray inTopk = p.gt(0f).toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
    NDArray qk = qc.mul(inTopk);
    NDArray qRest =
        Scalars.maximum(Scalars.of(qk, 1f).sub(qk.sum(new int[] {2}, true)), SparseKd.EPS);
    NDArray student = qk.concat(qRest, 2);
    NDArray teacher = p.concat(LossOps.f32(teacherTail).expandDims(2), 2);
    return bucketDivergence(divergence, teacher, student);
  }

  /**
   * D(teacher, student) over the last axis of two bucket distributions; the teacher's masses are
   * clipped at 0 and renormalised, both are clipped at TINY inside the logarithms.
   */
  static NDArray bucketDivergence(Divergence divergence, NDArray teacherMasses, NDArray student) {
    NDArray teacher = Scalars.maximum(LossOps.f32(teacherMasses), 0f);
    teacher = teacher.div(Scalars.maximum(teacher.sum(new int[] {2}, true), LossOps.TINY));
    NDArray logP = Scalars.maximum(teacher, LossOps.TINY).log();
    NDArray logQ = Scalars.maximum(student, LossOps.TINY).log();
    return divergence.between(teacher, logP, student, logQ);
  }

  /** {@code T^2} times the masked mean of {@link #perSpan} over spans: a scalar float32. */
  public static NDArray loss(
      Divergence divergence,
      NDArray studentLogits,
      NDArray studentPositions,
      NDArray teacherMerged,
      NDArray teacherTail,
      NDArray studentMerge,
      NDArray mask,
      float temperature) {
    NDArray per =
        perSpan(
            divergence,
            studentLogits,
            studentPositions,
            teacherMerged,
            teacherTail,
            studentMerge,
            temperature);
    return Scalars.mul(LossOps.maskedMean(per, mask), temperature * temperature);
  }
}
