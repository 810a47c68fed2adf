package dev.distill.spark;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Child JVMs of the integration tests: this JVM's {@code java} with Spark's flags. */
public final class ChildJvm {
  private ChildJvm() {}

  /** {@code java} and Spark's JVM flags as this test JVM got them (the pom's spark.jvm.flags). */
  public static List<String> javaWithSparkFlags() {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (a.startsWith("--add-")
          || a.startsWith("-XX:+IgnoreUnrecognized")
          || a.startsWith("--sun-misc")
          || a.startsWith("--enable-native")
          || a.startsWith("-Dio.netty")) {
        cmd.add(a);
      }
    }
    return cmd;
  }
}
