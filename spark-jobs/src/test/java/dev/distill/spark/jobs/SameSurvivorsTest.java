package dev.distill.spark.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The single read's check of dedupe ties (issue 14): the two-pass run orders rows that tie on
 * record id, chunk and Kafka coordinates by their labels hash, then their locator; the single read
 * by locator only. {@code CurateJob.sameSurvivors} says whether both keep the same row.
 */
class SameSurvivorsTest {
  @Test
  void equalLabelsHashesKeepTheFirstLocatorInBothRuns() {
    assertThat(CurateJob.sameSurvivors(List.of(new long[] {10, 20}), hashes(10, 7, 20, 7)))
        .isTrue();
  }

  @Test
  void aLargerHashOnTheTiedRowKeepsTheFirstRow() {
    assertThat(CurateJob.sameSurvivors(List.of(new long[] {10, 20}), hashes(10, -3, 20, 5)))
        .isTrue();
  }

  @Test
  void aSmallerHashOnTheTiedRowWouldHaveSurvivedTheTwoPassRun() {
    assertThat(CurateJob.sameSurvivors(List.of(new long[] {10, 20}), hashes(10, 5, 20, -3)))
        .isFalse();
  }

  @Test
  void anyGroupThatDisagreesDecides() {
    List<long[]> ties = List.of(new long[] {10, 20}, new long[] {10, 30});
    assertThat(CurateJob.sameSurvivors(ties, hashes(10, 5, 20, 6, 30, 4))).isFalse();
    assertThat(CurateJob.sameSurvivors(ties, hashes(10, 5, 20, 6, 30, 5))).isTrue();
  }

  @Test
  void aRowWhoseHashTheWriteDidNotSeeFallsBack() {
    assertThat(CurateJob.sameSurvivors(List.of(new long[] {10, 20}), hashes(10, 5))).isFalse();
  }

  @Test
  void noTiesNeedNoHashes() {
    assertThat(CurateJob.sameSurvivors(List.of(), List.of())).isTrue();
  }

  private static List<long[]> hashes(long... locAndHash) {
    List<long[]> out = new java.util.ArrayList<>();
    for (int i = 0; i < locAndHash.length; i += 2) {
      out.add(new long[] {locAndHash[i], locAndHash[i + 1]});
    }
    return out;
  }
}
