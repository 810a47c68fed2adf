package dev.distill.schemas.evaluation;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class LengthBucketsTest {
  private static final int[] EDGES = {64, 256, 1024};

  @Test
  void eachEdgeOpensTheNextBucketAndTheLastIsOpenEnded() {
    assertThat(LengthBuckets.of(1, EDGES)).isEqualTo("[0,64)");
    assertThat(LengthBuckets.of(63, EDGES)).isEqualTo("[0,64)");
    assertThat(LengthBuckets.of(64, EDGES)).isEqualTo("[64,256)");
    assertThat(LengthBuckets.of(255, EDGES)).isEqualTo("[64,256)");
    assertThat(LengthBuckets.of(256, EDGES)).isEqualTo("[256,1024)");
    assertThat(LengthBuckets.of(1024, EDGES)).isEqualTo("[1024,inf)");
    assertThat(LengthBuckets.index(5000, EDGES)).isEqualTo(3);
  }

  @Test
  void noEdgesIsOneBucketOfEveryLength() {
    assertThat(LengthBuckets.of(7, new int[0])).isEqualTo("[0,inf)");
  }
}
