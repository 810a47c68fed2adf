package dev.distill.spark.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

class SessionsTest {
  @Test
  void aJobStopsOnlyTheSessionItCreated() {
    assumeTrue(
        SparkSession.getActiveSession().isEmpty() && SparkSession.getDefaultSession().isEmpty(),
        "needs a JVM with no Spark session");
    Sessions.Handle outer = Sessions.open("outer", "local[1]");
    try {
      assertThat(outer.created()).isTrue();
      assertThat(outer.spark().conf().get("spark.ui.enabled")).isEqualTo("false");

      Sessions.Handle inner = Sessions.open("inner", "local[1]");
      inner.close();

      assertThat(inner.created()).isFalse();
      assertThat(inner.spark()).isSameAs(outer.spark());
      assertThat(outer.spark().sparkContext().isStopped()).isFalse();
    } finally {
      outer.close();
    }
    assertThat(outer.spark().sparkContext().isStopped()).isTrue();
  }
}
