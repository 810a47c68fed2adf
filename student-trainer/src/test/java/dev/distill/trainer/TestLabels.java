package dev.distill.trainer;

import dev.distill.schemas.codec.SoftLabels;

/** Synthetic soft labels for tests, shared so each test states only the numbers it relies on. */
public final class TestLabels {
  private TestLabels() {}

  /**
   * Top-2 labels over {@code positions}: position p has ids {@code {p % period, p % period + 1}}
   * with probabilities {@code {p0, p1}} and tail mass {@code tail}.
   */
  public static SoftLabels topTwo(int positions, int period, float p0, float p1, float tail) {
    int k = 2;
    int[] ids = new int[positions * k];
    float[] probs = new float[positions * k];
    float[] tails = new float[positions];
    for (int p = 0; p < positions; p++) {
      ids[p * k] = p % period;
      ids[p * k + 1] = p % period + 1;
      probs[p * k] = p0;
      probs[p * k + 1] = p1;
      tails[p] = tail;
    }
    return new SoftLabels(positions, k, ids, probs, tails);
  }
}
