package dev.distill.spark.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.spark.SparkJobCounter;
import dev.distill.spark.TestSpark;
import java.nio.file.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How ParquetInput hands its listed files to Spark (issue 14). */
class ParquetInputTest {
  private final SparkSession spark = TestSpark.local("parquet-input-test");

  @Test
  void readingMoreFilesThanSparksListingThresholdRunsNoListingJobAndRestoresTheSetting(
      @TempDir Path tmp) throws Exception {
    Path dir = tmp.resolve("many");
    // 40 files: more than Spark's parallel listing threshold (32).
    spark.range(0, 400, 1, 40).write().parquet(dir.toString());
    ParquetInput input =
        ParquetInput.resolve(spark.sparkContext().hadoopConfiguration(), "--input", dir.toString());
    assertThat(input.files()).hasSize(40);
    assertThat(spark.conf().contains(ParquetInput.LISTING_THRESHOLD)).isFalse();

    SparkJobCounter.Counted<Dataset<Row>> read =
        SparkJobCounter.count(spark, () -> input.read(spark));

    // One job: the schema inference (the footer of a file). A listing job would make it two.
    assertThat(read.jobs()).isEqualTo(1);
    assertThat(read.value().count()).isEqualTo(400);
    assertThat(spark.conf().contains(ParquetInput.LISTING_THRESHOLD)).isFalse();

    spark.conf().set(ParquetInput.LISTING_THRESHOLD, "7");
    try {
      input.read(spark);
      assertThat(spark.conf().get(ParquetInput.LISTING_THRESHOLD)).isEqualTo("7");
    } finally {
      spark.conf().unset(ParquetInput.LISTING_THRESHOLD);
    }
  }
}
