package dev.distill.spark;

import org.apache.spark.sql.SparkSession;

/** The tests' local Spark session: two threads, two shuffle partitions, no UI. */
public final class TestSpark {
  private TestSpark() {}

  public static SparkSession local(String appName) {
    return SparkSession.builder()
        .appName(appName)
        .master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate();
  }
}
