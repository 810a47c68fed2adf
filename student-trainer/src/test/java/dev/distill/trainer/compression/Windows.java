package dev.distill.trainer.compression;

import java.util.Arrays;

/** Fixed-length token windows cut from an encoded corpus, the rows the compression tests feed. */
final class Windows {
  private Windows() {}

  /** Rows {@code ids[s .. s + len)} for each start {@code s}. */
  static int[][] of(int[] ids, int len, int... starts) {
    return Arrays.stream(starts)
        .mapToObj(s -> Arrays.copyOfRange(ids, s, s + len))
        .toArray(int[][]::new);
  }
}
