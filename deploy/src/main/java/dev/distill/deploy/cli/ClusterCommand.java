package dev.distill.deploy.cli;

import dev.distill.spark.cluster.StandaloneCluster;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code distill cluster start|stop|url}: a Spark standalone cluster on this machine from the
 * distribution's Spark jars ({@link StandaloneCluster}): a Master and Workers as separate JVMs on
 * loopback, whose executors are JVMs of their own. Its {@code spark://} URL goes to {@code
 * --master} of {@code train --spark}, {@code ingest} and {@code curate}.
 */
@Command(
    name = "cluster",
    mixinStandardHelpOptions = true,
    description = {
      "A Spark standalone cluster on this machine (loopback only), from the Spark jars of this"
          + " distribution: a Master and --workers Workers as separate JVMs; each Worker runs its"
          + " executors in JVMs of their own.",
      "Logs, pid files and executor folders under --state (default runs/.cluster)."
    })
final class ClusterCommand {
  static final String DEFAULT_STATE = "runs/.cluster";

  /** {@code --state}: the folder of the cluster's logs, pid files and executor folders. */
  static final class StateFolder {
    @Option(
        names = "--state",
        defaultValue = DEFAULT_STATE,
        description = "State folder (default ${DEFAULT-VALUE}).")
    Path dir;
  }

  // The subcommands are methods (picocli adds @Command methods as subcommands of their class).

  @Command(
      name = "start",
      mixinStandardHelpOptions = true,
      description =
          "Starts the Master and the Workers, waits until every Worker registered and prints the"
              + " master URL (spark://127.0.0.1:PORT) on stdout.")
  int start(
      @Option(names = "--workers", defaultValue = "2", description = "Workers (default 2).")
          int workers,
      @Option(names = "--cores", defaultValue = "1", description = "Cores per Worker (default 1).")
          int cores,
      @Option(
              names = "--memory",
              defaultValue = "2g",
              description =
                  "Memory per Worker for its executors (default ${DEFAULT-VALUE}; an executor asks"
                      + " for spark.executor.memory, 1g by default).")
          String memory,
      @Mixin StateFolder state,
      @Option(
              names = "--timeout",
              defaultValue = "180",
              description = "Seconds to wait for the cluster (default ${DEFAULT-VALUE}).")
          int timeoutSeconds)
      throws IOException {
    StandaloneCluster.Running r =
        StandaloneCluster.start(
            state.dir, workers, cores, memory, Duration.ofSeconds(timeoutSeconds));
    System.err.printf(
        "[cluster] %d worker(s) x %d core(s) registered; logs under %s; stop with: distill"
            + " cluster stop%n",
        workers, cores, r.stateDir());
    System.out.println(r.masterUrl());
    return 0;
  }

  @Command(
      name = "stop",
      mixinStandardHelpOptions = true,
      description = "Stops the Workers (and their executors), then the Master.")
  int stop(@Mixin StateFolder state) throws IOException {
    int n = StandaloneCluster.stop(state.dir);
    System.err.printf("[cluster] stopped %d JVM(s) of %s%n", n, state.dir);
    return 0;
  }

  @Command(
      name = "url",
      mixinStandardHelpOptions = true,
      description = "Prints the master URL of the running cluster; exits 1 if none runs.")
  int url(@Mixin StateFolder state) throws IOException {
    var url = StandaloneCluster.runningUrl(state.dir);
    if (url.isEmpty()) {
      System.err.println("[cluster] no cluster runs from " + state.dir);
      return 1;
    }
    System.out.println(url.get());
    return 0;
  }
}
