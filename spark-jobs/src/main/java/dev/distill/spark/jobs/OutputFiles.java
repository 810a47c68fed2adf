package dev.distill.spark.jobs;

/**
 * How many write tasks an output gets (issue 14: no small files). Each task writes at most one file
 * per split, so the file count is at most {@code tasks x splits}; a task's share is sized to the
 * target file size, and a small output still gets {@code minTasks} tasks (every core busy).
 */
final class OutputFiles {
  /** {@code --target-file-mb} default: the block size most data lakes use. */
  static final int DEFAULT_TARGET_MB = 128;

  private OutputFiles() {}

  /** Checks {@code --target-file-mb} (at least 1) and {@code --max-records-per-file} (0: none). */
  static void requireValid(int targetFileMb, long maxRecordsPerFile) {
    if (targetFileMb < 1) {
      throw new IllegalArgumentException("targetFileMb must be >= 1, got " + targetFileMb);
    }
    if (maxRecordsPerFile < 0) {
      throw new IllegalArgumentException(
          "maxRecordsPerFile must be >= 0 (0: no cap), got " + maxRecordsPerFile);
    }
  }

  /** {@code max(minTasks, ceil(bytes / target))}, at least 1. */
  static int tasks(double estimatedBytes, long targetFileBytes, int minTasks) {
    long bySize = (long) Math.ceil(Math.max(0, estimatedBytes) / targetFileBytes);
    return (int) Math.max(1, Math.min(Integer.MAX_VALUE, Math.max(minTasks, bySize)));
  }
}
