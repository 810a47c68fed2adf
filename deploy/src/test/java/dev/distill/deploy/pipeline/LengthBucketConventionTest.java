package dev.distill.deploy.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.spark.transforms.StudentEvaluation;
import dev.distill.trainer.evaluation.SliceMetrics;
import org.junit.jupiter.api.Test;

/**
 * {@code distill eval} (student-trainer's SliceMetrics) and spark-jobs' EvalJob put an example of a
 * given length in the same bucket under the same label, so their per-slice numbers line up.
 */
class LengthBucketConventionTest {
  @Test
  void distillEvalAndEvalJobBucketEveryLengthAlike() {
    int[][] edgeSets = {SliceMetrics.LENGTH_BUCKETS, {3}, {1, 2, 5}};
    for (int[] edges : edgeSets) {
      for (int positions = 1; positions <= 1100; positions++) {
        assertThat(SliceMetrics.lengthBucket(positions, edges))
            .as("%d positions", positions)
            .isEqualTo(StudentEvaluation.lengthBucket(positions, edges));
      }
    }
  }
}
