package dev.distill.trainer.loss;

import dev.distill.models.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.List;

/**
 * Aligns two tokenizations of one text by character offsets (issue 15, ask 4), the alignment step
 * of token-alignment cross-tokenizer distillation (as in TRL's GOLD trainer, which groups teacher
 * and student tokens whose decoded text covers the same character span; DSKD, Zhang et al. 2024,
 * arXiv:2406.17328, aligns by the same text).
 *
 * <p>A <em>shared boundary</em> is a character offset at which a token starts in both
 * tokenizations. Consecutive shared boundaries delimit <em>aligned spans</em>: each covers one or
 * more whole teacher tokens and one or more whole student tokens with exactly the same text. At a
 * span's start both models have read the same text, so their next-token predictions there are
 * predictions of the same continuation and can be compared (see {@link SpanAlignedKd}).
 */
public final class CharSpanAlignment {
  /**
   * One aligned span: teacher tokens {@code [teacherStart, teacherEnd)}, student tokens {@code
   * [studentStart, studentEnd)}, characters {@code [charStart, charEnd)}.
   */
  public record Span(
      int teacherStart,
      int teacherEnd,
      int studentStart,
      int studentEnd,
      int charStart,
      int charEnd) {}

  private CharSpanAlignment() {}

  /**
   * End offset (in chars of the decoded text) of every token: {@code ends[i] =
   * decode(ids[0..i]).length()}. Decoding prefixes keeps multi-token characters (byte-level BPE)
   * whole.
   */
  public static int[] endOffsets(Tokenizer tokenizer, int[] ids) {
    int[] ends = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      ends[i] = tokenizer.decode(java.util.Arrays.copyOf(ids, i + 1)).length();
    }
    return ends;
  }

  /**
   * The aligned spans of two tokenizations given their token end offsets.
   *
   * @throws IllegalArgumentException when the two cover texts of different lengths
   */
  public static List<Span> align(int[] teacherEnds, int[] studentEnds) {
    int tLen = teacherEnds.length == 0 ? 0 : teacherEnds[teacherEnds.length - 1];
    int sLen = studentEnds.length == 0 ? 0 : studentEnds[studentEnds.length - 1];
    if (tLen != sLen) {
      throw new IllegalArgumentException(
          "the tokenizations cover different texts: teacher "
              + tLen
              + " chars, student "
              + sLen
              + " chars");
    }
    List<Span> spans = new ArrayList<>();
    int ti = 0;
    int si = 0;
    int spanT = 0;
    int spanS = 0;
    int spanC = 0;
    // Walk both token lists by end offset; a span closes where both end at the same offset.
    while (ti < teacherEnds.length && si < studentEnds.length) {
      int te = teacherEnds[ti];
      int se = studentEnds[si];
      if (te == se) {
        ti++;
        si++;
        if (te > spanC) {
          spans.add(new Span(spanT, ti, spanS, si, spanC, te));
          spanT = ti;
          spanS = si;
          spanC = te;
        }
      } else if (te < se) {
        ti++;
      } else {
        si++;
      }
    }
    return spans;
  }
}
