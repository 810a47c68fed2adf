package dev.distill.spark.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.distill.spark.ChildJvm;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link CurateJob#shufflePartitionsToCores} on sessions of their own: a child JVM, because a
 * SparkContext's configuration is fixed when it starts and this test JVM may already hold one (the
 * shared test session sets the partitions, which is the second branch only).
 */
class ShufflePartitionsToCoresTest {
  @Test
  void aLocalSessionGetsOnePartitionPerCoreUnlessTheUserSetThePartitions(@TempDir Path tmp)
      throws Exception {
    List<String> cmd = new ArrayList<>(ChildJvm.javaWithSparkFlags());
    cmd.addAll(
        List.of("-Xmx512m", "-cp", System.getProperty("java.class.path"), Child.class.getName()));
    Path out = tmp.resolve("child.out");
    Process p =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    if (!p.waitFor(240, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail("child JVM still running after 240 s; output:\n" + Files.readString(out));
    }
    String log = Files.readString(out, StandardCharsets.UTF_8);
    assertThat(p.exitValue()).as("exit code; output:\n%s", log).isZero();
    // local[3]: 3 cores. Not set by the user: the cores (Spark's own default is 200).
    assertThat(log).contains("not set by the user: 3");
    // Set by the user (SparkConf, as spark-submit --conf or spark-defaults would): kept.
    assertThat(log).contains("set by the user to 7: 7");
  }

  /** Runs in the child JVM: two sessions one after the other, each given to the method. */
  public static final class Child {
    public static void main(String[] args) {
      System.out.println("not set by the user: " + partitionsAfter(null));
      System.out.println("set by the user to 7: " + partitionsAfter("7"));
    }

    private static String partitionsAfter(String userSetting) {
      SparkSession.Builder b =
          SparkSession.builder()
              .appName("shuffle-partitions")
              .master("local[3]")
              .config("spark.ui.enabled", "false");
      if (userSetting != null) {
        b = b.config(CurateJob.SHUFFLE_PARTITIONS, userSetting);
      }
      SparkSession spark = b.getOrCreate();
      try {
        CurateJob.shufflePartitionsToCores(spark);
        return spark.conf().get(CurateJob.SHUFFLE_PARTITIONS);
      } finally {
        spark.stop();
        SparkSession.clearActiveSession();
        SparkSession.clearDefaultSession();
      }
    }
  }
}
