package dev.distill.teacher.inference;

import dev.distill.schemas.codec.SoftLabels;

/**
 * The teacher's soft labels for one token sequence and their summary statistics.
 *
 * @param tokens the input sequence (positions + 1 ids)
 * @param labels top-k per position, position i predicting tokens[i + 1]
 * @param meanEntropy mean entropy in nats of the full distribution at T
 * @param meanTop1Margin mean p(top1) - p(top2)
 * @param meanTopkMass mean top-k mass
 * @param labelOutsideTopkRate share of positions whose next token is outside the top-k
 */
public record LabeledSequence(
    int[] tokens,
    SoftLabels labels,
    float meanEntropy,
    float meanTop1Margin,
    float meanTopkMass,
    float labelOutsideTopkRate) {

  /**
   * The sequence with the statistics its labels give: over positions p, the mean top-k mass {@code
   * sum_j prob(p, j)}, the mean top-1 margin {@code prob(p, 0) - prob(p, 1)} ({@code prob(p, 0)}
   * when k = 1), and the share of positions whose next token {@code tokens[p + 1]} is not among the
   * top-k ids. The mean entropy needs the full distribution, so the teacher passes it.
   */
  public static LabeledSequence of(int[] tokens, SoftLabels labels, float meanEntropy) {
    int positions = labels.positions();
    int k = labels.k();
    double mass = 0;
    double margin = 0;
    int outside = 0;
    for (int p = 0; p < positions; p++) {
      for (int j = 0; j < k; j++) {
        mass += labels.prob(p, j);
      }
      margin += k > 1 ? labels.prob(p, 0) - labels.prob(p, 1) : labels.prob(p, 0);
      outside += labels.contains(p, tokens[p + 1]) ? 0 : 1;
    }
    return new LabeledSequence(
        tokens,
        labels,
        meanEntropy,
        (float) (margin / positions),
        (float) (mass / positions),
        (float) outside / positions);
  }
}
