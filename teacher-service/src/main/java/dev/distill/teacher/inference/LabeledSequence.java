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
    float labelOutsideTopkRate) {}
