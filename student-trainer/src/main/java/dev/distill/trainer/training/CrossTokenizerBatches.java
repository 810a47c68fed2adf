package dev.distill.trainer.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.distill.models.autograd.Scalars;
import dev.distill.models.tokenizer.Tokenizer;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.trainer.data.Example;
import dev.distill.trainer.loss.CharSpanAlignment;
import dev.distill.trainer.loss.Divergence;
import dev.distill.trainer.loss.HardLabelCrossEntropy;
import dev.distill.trainer.loss.SpanAlignedKd;
import dev.distill.trainer.loss.TokenPathKd;
import dev.distill.trainer.loss.UniversalLogitDistillation;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Batches for a student whose tokenizer differs from the teacher's (issue 15, ask 4): each curated
 * example's teacher tokens are decoded to text and re-encoded with the student's tokenizer; the
 * student reads its own ids, and the teacher's soft labels reach it through a cross-tokenizer loss:
 *
 * <pre>
 *   total = alpha * KD + (1 - alpha) * CE(student's next tokens of the same text)
 *   uld:  KD = ULD (Boizard et al. 2024, arXiv:2402.12030), teacher position i paired with student
 *         position i for i < min(teacher positions, student positions), as the paper truncates
 *   span: KD = SpanAlignedKd (character-aligned spans, first-character buckets; DSKD / GOLD), times
 *         T^2, over the spans whose student position is inside the student's context
 *   span-debiased: span with each span's teacher buckets corrected for the student's token
 *         boundary (SpanAlignedKd.BoundaryRates, tokenization bias), the rates counted on the
 *         student's tokenizations of these examples' texts
 * </pre>
 *
 * Examples whose text the student cannot tokenize to at least 2 ids, or (span) whose two
 * tokenizations do not cover the same characters, are left out and counted ({@link #skipped}).
 * Examples are drawn at random with replacement (seeded), as {@link SoftLabelBatches} draws.
 */
public final class CrossTokenizerBatches implements BatchSource {
  /** The cross-tokenizer losses, by their config name ({@code train.loss}). */
  public enum Kind {
    ULD("uld"),
    SPAN("span"),
    /** {@code span} with the teacher's buckets corrected for the student's token boundaries. */
    SPAN_DEBIASED("span-debiased"),
    /** KD over the realised student token's characters ({@code TokenPathKd}; char teacher). */
    SPAN_PATH("span-path");

    private final String id;

    Kind(String id) {
      this.id = id;
    }

    public String id() {
      return id;
    }

    /**
     * @throws IllegalArgumentException naming the accepted names
     */
    public static Kind parse(String name) {
      for (Kind k : values()) {
        if (k.id.equals(name)) {
          return k;
        }
      }
      throw new IllegalArgumentException(
          "unknown cross-tokenizer loss "
              + name
              + "; expected uld, span, span-debiased or span-path");
    }
  }

  /** One example on the student's side. */
  private record Aligned(
      int[] student, SoftLabels teacher, SpanAlignedKd.Targets spans, int[] studentEnds) {}

  private final List<Aligned> examples;
  private final Kind kind;
  private final float alpha;
  private final float temperature;
  private final int teacherVocab;
  private final int batchSize;
  private final Divergence divergence;
  private final SpanAlignedKd.Buckets buckets;
  private final SpanAlignedKd.BoundaryRates rates;
  private final TokenPathKd.Vocabulary vocabulary;
  private final char[] teacherChars;
  private final int skipped;

  /**
   * @param teacherExamples curated examples (teacher token ids and soft labels)
   * @param maxPositions the student's context: longer student sequences are cropped
   * @param divergence the divergence of the span loss (ULD has its own distance)
   */
  public CrossTokenizerBatches(
      List<Example> teacherExamples,
      Tokenizer teacherTokenizer,
      Tokenizer studentTokenizer,
      Kind kind,
      float alpha,
      float temperature,
      int batchSize,
      int maxPositions,
      Divergence divergence) {
    if (!(alpha >= 0f && alpha <= 1f)) {
      throw new IllegalArgumentException("alpha must be in [0, 1], got " + alpha);
    }
    this.kind = kind;
    this.alpha = alpha;
    this.temperature = temperature;
    this.teacherVocab = teacherTokenizer.vocabSize();
    this.batchSize = batchSize;
    this.divergence = divergence;
    boolean spans = kind != Kind.ULD;
    this.buckets = spans ? SpanAlignedKd.Buckets.of(teacherTokenizer, studentTokenizer) : null;
    List<Example> kept = new ArrayList<>(teacherExamples.size());
    List<String> texts = new ArrayList<>(teacherExamples.size());
    List<int[]> fulls = new ArrayList<>(teacherExamples.size());
    int skip = 0;
    for (Example e : teacherExamples) {
      if (e.labels().sampled()) {
        throw new IllegalArgumentException(
            "cross-tokenizer losses read top-k + tail labels; example "
                + e.id()
                + " has sampled labels (label with --labels topk)");
      }
      String text = teacherTokenizer.decode(e.tokens());
      int[] full;
      try {
        full = studentTokenizer.encode(text);
      } catch (IllegalArgumentException untokenizable) {
        skip++;
        continue;
      }
      if (full.length < 2) {
        skip++;
        continue;
      }
      kept.add(e);
      texts.add(text);
      fulls.add(full);
    }
    // span-debiased: the student's boundary rates, counted on the same texts it trains on
    String[] studentTexts = SpanAlignedKd.Buckets.texts(studentTokenizer);
    this.rates =
        kind == Kind.SPAN_DEBIASED || kind == Kind.SPAN_PATH
            ? SpanAlignedKd.BoundaryRates.estimate(buckets, studentTexts, texts, fulls)
            : null;
    this.vocabulary = kind == Kind.SPAN_PATH ? new TokenPathKd.Vocabulary(studentTexts) : null;
    this.teacherChars = kind == Kind.SPAN_PATH ? charsOf(teacherTokenizer) : null;
    List<Aligned> out = new ArrayList<>(kept.size());
    for (int i = 0; i < kept.size(); i++) {
      Example e = kept.get(i);
      int[] full = fulls.get(i);
      int[] student = Arrays.copyOf(full, Math.min(full.length, maxPositions + 1));
      SpanAlignedKd.Targets aligned = null;
      int[] studentEnds = null;
      if (kind == Kind.SPAN_PATH) {
        // paths read each token's own text: left out when those do not spell the text (a
        // character split over byte-level tokens, or a decoder that drops a leading space)
        StringBuilder spelled = new StringBuilder();
        for (int id : full) {
          spelled.append(studentTexts[id]);
        }
        if (!spelled.toString().equals(texts.get(i))) {
          skip++;
          continue;
        }
        studentEnds = CharSpanAlignment.endOffsets(studentTokenizer, full);
      } else if (spans) {
        try {
          List<CharSpanAlignment.Span> all =
              CharSpanAlignment.align(
                  CharSpanAlignment.endOffsets(teacherTokenizer, e.tokens()),
                  CharSpanAlignment.endOffsets(studentTokenizer, full));
          aligned =
              inContext(
                  SpanAlignedKd.targets(buckets, e.labels(), all, full, rates), student.length - 1);
        } catch (IllegalArgumentException different) {
          skip++;
          continue;
        }
      }
      out.add(new Aligned(student, e.labels(), aligned, studentEnds));
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException(
          "no example could be read by the student's tokenizer (" + skip + " left out)");
    }
    this.examples = out;
    this.skipped = skip;
  }

  /** Examples left out (untokenizable by the student, or texts that do not align). */
  public int skipped() {
    return skipped;
  }

  /** Examples kept. */
  public int size() {
    return examples.size();
  }

  /** The spans whose student position is below {@code positions}. */
  private static SpanAlignedKd.Targets inContext(SpanAlignedKd.Targets t, int positions) {
    int n = 0;
    while (n < t.spans() && t.studentPositions()[n] < positions) {
      n++;
    }
    return new SpanAlignedKd.Targets(
        n,
        t.columns(),
        Arrays.copyOf(t.studentPositions(), n),
        Arrays.copyOf(t.teacherMerged(), n * t.columns()),
        Arrays.copyOf(t.teacherTail(), n));
  }

  @Override
  public Batch next(NDManager manager, Random rng) {
    List<Aligned> picked = new ArrayList<>(batchSize);
    for (int i = 0; i < batchSize; i++) {
      picked.add(examples.get(rng.nextInt(examples.size())));
    }
    int b = picked.size();
    int t = 0;
    for (Aligned a : picked) {
      t = Math.max(t, a.student().length - 1);
    }
    long[] in = new long[b * t];
    long[] out = new long[b * t];
    float[] mask = new float[b * t];
    long tokens = 0;
    for (int i = 0; i < b; i++) {
      int[] s = picked.get(i).student();
      for (int p = 0; p < s.length - 1; p++) {
        in[i * t + p] = s[p];
        out[i * t + p] = s[p + 1];
        mask[i * t + p] = 1f;
      }
      tokens += s.length - 1;
    }
    NDArray inputs = manager.create(in, new Shape(b, t));
    NDArray targets = manager.create(out, new Shape(b, t));
    NDArray m = manager.create(mask, new Shape(b, t));
    NDArray[] kd =
        alpha > 0f
            ? switch (kind) {
              case ULD -> uld(manager, picked, t);
              case SPAN_PATH -> paths(manager, picked, t);
              default -> span(manager, picked);
            }
            : null;
    NDArray studentMerge =
        kd != null && kind != Kind.ULD && kind != Kind.SPAN_PATH
            ? buckets.studentMerge(manager)
            : null;
    return BatchSource.Batch.of(
        inputs,
        tokens,
        logits -> {
          NDArray loss = null;
          if (kd != null) {
            NDArray k =
                switch (kind) {
                  case ULD ->
                      UniversalLogitDistillation.loss(
                          logits, kd[0], kd[1], kd[2], teacherVocab, temperature);
                  case SPAN_PATH ->
                      TokenPathKd.loss(
                          divergence,
                          logits,
                          new TokenPathKd.Arrays(kd[0], kd[1], kd[2], kd[3], kd[4]),
                          kd[5],
                          temperature);
                  default ->
                      SpanAlignedKd.loss(
                          divergence,
                          logits,
                          kd[0],
                          kd[1],
                          kd[2],
                          studentMerge,
                          kd[3],
                          temperature);
                };
            loss = alpha == 1f ? k : Scalars.mul(k, alpha);
          }
          if (alpha < 1f) {
            NDArray ce = HardLabelCrossEntropy.loss(logits, targets, m);
            ce = alpha == 0f ? ce : Scalars.mul(ce, 1f - alpha);
            loss = loss == null ? ce : loss.add(ce);
          }
          return loss;
        });
  }

  /**
   * (topkProbs (B, T, k), tail (B, T), mask (B, T)): teacher position i under student position i.
   */
  private NDArray[] uld(NDManager manager, List<Aligned> picked, int t) {
    int b = picked.size();
    int k = picked.get(0).teacher().k();
    float[] probs = new float[b * t * k];
    float[] tail = new float[b * t];
    float[] mask = new float[b * t];
    Arrays.fill(tail, 1f);
    for (int i = 0; i < b; i++) {
      Aligned a = picked.get(i);
      if (a.teacher().k() != k) {
        throw new IllegalArgumentException("examples mix k: " + k + " and " + a.teacher().k());
      }
      int n = Math.min(a.teacher().positions(), a.student().length - 1);
      for (int p = 0; p < n; p++) {
        for (int j = 0; j < k; j++) {
          probs[(i * t + p) * k + j] = a.teacher().prob(p, j);
        }
        tail[i * t + p] = a.teacher().tail(p);
        mask[i * t + p] = 1f;
      }
    }
    return new NDArray[] {
      manager.create(probs, new Shape(b, t, k)),
      manager.create(tail, new Shape(b, t)),
      manager.create(mask, new Shape(b, t))
    };
  }

  /** (positions (B, N), merged (B, N, C), tail (B, N), mask (B, N)), N = most spans, >= 1. */
  private NDArray[] span(NDManager manager, List<Aligned> picked) {
    int b = picked.size();
    int c = buckets.size();
    int n = 1;
    for (Aligned a : picked) {
      n = Math.max(n, a.spans().spans());
    }
    long[] pos = new long[b * n];
    float[] merged = new float[b * n * c];
    float[] tail = new float[b * n];
    float[] mask = new float[b * n];
    Arrays.fill(tail, 1f);
    for (int i = 0; i < b; i++) {
      SpanAlignedKd.Targets s = picked.get(i).spans();
      System.arraycopy(s.studentPositions(), 0, pos, i * n, s.spans());
      System.arraycopy(s.teacherMerged(), 0, merged, i * n * c, s.spans() * c);
      System.arraycopy(s.teacherTail(), 0, tail, i * n, s.spans());
      Arrays.fill(mask, i * n, i * n + s.spans(), 1f);
    }
    return new NDArray[] {
      manager.create(pos, new Shape(b, n)),
      manager.create(merged, new Shape(b, n, c)),
      manager.create(tail, new Shape(b, n)),
      manager.create(mask, new Shape(b, n))
    };
  }

  /** The character of every teacher id: span-path needs a character-level teacher. */
  private static char[] charsOf(Tokenizer teacher) {
    char[] out = new char[teacher.vocabSize()];
    for (int id = 0; id < out.length; id++) {
      String text = teacher.decode(new int[] {id});
      if (text.length() != 1) {
        throw new IllegalArgumentException(
            "span-path needs a character-level teacher; teacher id "
                + id
                + " is '"
                + text
                + "' ("
                + teacher.id()
                + ")");
      }
      out[id] = text.charAt(0);
    }
    return out;
  }

  /**
   * (positions (B, T), perm (B, T, V_s), starts (B, T, C), ends (B, T, C), teacher (B, T, C), mask
   * (B, T)): the token path of every student position.
   */
  private NDArray[] paths(NDManager manager, List<Aligned> picked, int t) {
    int b = picked.size();
    int v = vocabulary.size();
    TokenPathKd.Path[] all = new TokenPathKd.Path[b * t];
    int c = 1;
    for (int i = 0; i < b; i++) {
      Aligned a = picked.get(i);
      for (int p = 0; p + 1 < a.student().length; p++) {
        TokenPathKd.Path path =
            TokenPathKd.path(
                vocabulary,
                teacherChars,
                buckets,
                rates,
                a.teacher(),
                a.studentEnds()[p],
                a.student()[p + 1],
                a.student()[p]);
        all[i * t + p] = path;
        if (path != null) {
          c = Math.max(c, path.buckets());
        }
      }
    }
    long[] pos = new long[b * t];
    long[] perm = new long[b * t * v];
    long[] starts = new long[b * t * c];
    long[] ends = new long[b * t * c];
    float[] teacher = new float[b * t * c];
    float[] mask = new float[b * t];
    Arrays.fill(starts, v);
    Arrays.fill(ends, v);
    for (int i = 0; i < b; i++) {
      for (int p = 0; p < t; p++) {
        int row = i * t + p;
        pos[row] = p;
        TokenPathKd.Path path = all[row];
        if (path == null) {
          for (int j = 0; j < v; j++) {
            perm[row * v + j] = j;
          }
          continue;
        }
        mask[row] = 1f;
        for (int j = 0; j < v; j++) {
          perm[row * v + j] = path.perm()[j];
        }
        for (int j = 0; j < path.buckets(); j++) {
          starts[row * c + j] = path.starts()[j];
          ends[row * c + j] = path.ends()[j];
          teacher[row * c + j] = path.teacher()[j];
        }
      }
    }
    return new NDArray[] {
      manager.create(pos, new Shape(b, t)),
      manager.create(perm, new Shape(b, t, v)),
      manager.create(starts, new Shape(b, t, c)),
      manager.create(ends, new Shape(b, t, c)),
      manager.create(teacher, new Shape(b, t, c)),
      manager.create(mask, new Shape(b, t))
    };
  }

  /** One line for the run's metadata. */
  public String description() {
    return String.format(
        Locale.ROOT,
        "cross-tokenizer: total = %s * %s + %s * CE(student tokens); %d examples, %d left out",
        alpha,
        kind == Kind.ULD
            ? "ULD (sorted-probability L1, no T^2)"
            : (kind == Kind.SPAN_PATH ? "token-path " : "span-aligned ")
                + divergence.name()
                + " * T^2"
                + (kind == Kind.SPAN_DEBIASED ? " (boundary-corrected teacher)" : ""),
        1f - alpha,
        examples.size(),
        skipped);
  }
}
