package dev.distill.trainer.data;

import dev.distill.schemas.codec.SoftLabels;
import java.util.Objects;

/**
 * One training example: {@code tokens} ({@code positions + 1} ids) and its decoded soft labels
 * ({@code positions x k}, ids ascending within a position): the labels at position {@code p} are
 * the teacher's distribution of {@code tokens[p + 1]} given {@code tokens[0..p]}.
 *
 * @param id the example id (exampleId of the curated record)
 * @param tokens the token ids, at least 2
 * @param labels the soft labels, {@code labels.positions() == tokens.length - 1}
 * @param weight the curated example weight (carried, see {@link KdBatch#weights()})
 */
public record Example(String id, int[] tokens, SoftLabels labels, float weight) {
  public Example {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(tokens, "tokens");
    Objects.requireNonNull(labels, "labels");
    if (tokens.length < 2) {
      throw new IllegalArgumentException(
          "example " + id + " needs at least 2 tokens, has " + tokens.length);
    }
    if (labels.positions() != tokens.length - 1) {
      throw new IllegalArgumentException(
          "example "
              + id
              + " has "
              + tokens.length
              + " tokens but soft labels for "
              + labels.positions()
              + " positions, expected "
              + (tokens.length - 1));
    }
  }

  /** Labelled positions, {@code tokens.length - 1}. */
  public int positions() {
    return tokens.length - 1;
  }

  /**
   * This example cut to its first {@code maxPositions} positions (tokens {@code 0..maxPositions},
   * their labels), or this example when it fits: a student sees at most its context length.
   */
  public Example cropped(int maxPositions) {
    if (maxPositions < 1) {
      throw new IllegalArgumentException("maxPositions must be >= 1, got " + maxPositions);
    }
    if (positions() <= maxPositions) {
      return this;
    }
    SoftLabels cut = labels.firstPositions(maxPositions);
    return new Example(id, java.util.Arrays.copyOf(tokens, maxPositions + 1), cut, weight);
  }
}
