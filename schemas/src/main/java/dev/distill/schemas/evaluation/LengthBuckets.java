package dev.distill.schemas.evaluation;

/**
 * The length buckets of per-slice evaluation, one convention for spark-jobs' {@code EvalJob} and
 * student-trainer's {@code distill eval}, so their per-slice rows line up: for ascending, positive
 * edges {@code e0 < e1 < ... < eN} the buckets are {@code [0,e0)}, {@code [e0,e1)}, ..., {@code
 * [eN,inf)}, and a record falls in the bucket that holds its number of scored positions.
 */
public final class LengthBuckets {
  private LengthBuckets() {}

  /** The index of the bucket holding {@code positions}: 0 to {@code edges.length}. */
  public static int index(int positions, int[] edges) {
    int i = 0;
    while (i < edges.length && positions >= edges[i]) {
      i++;
    }
    return i;
  }

  /** The label of bucket {@code index}, e.g. {@code [64,256)} or {@code [1024,inf)}. */
  public static String label(int index, int[] edges) {
    int lo = index == 0 ? 0 : edges[index - 1];
    return index == edges.length ? "[" + lo + ",inf)" : "[" + lo + "," + edges[index] + ")";
  }

  /** The label of the bucket holding {@code positions}. */
  public static String of(int positions, int[] edges) {
    return label(index(positions, edges), edges);
  }
}
