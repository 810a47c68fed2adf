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
      Map<Character, Integer> cols = new LinkedHashMap<>();
      String[] t = texts(teacher);
      String[] s = texts(student);
      for (String[] texts : new String[][] {t, s}) {
        for (String x : texts) {
          if (!x.isEmpty()) {
            cols.putIfAbsent(x.charAt(0), cols.size());
          }
        }
      }
      return new Buckets(cols, columnsOf(t, cols), columnsOf(s, cols));
    }

    private static String[] texts(Tokenizer tok) {
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
      System.arraycopy(buckets.teacherMerged(ids, probs), 0, merged, i * c, c);
      tail[i] = teacher.tail(tp);
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
    NDArray teacher = p.concat(Scalars.maximum(LossOps.f32(teacherTail), 0f).expandDims(2), 2);
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
