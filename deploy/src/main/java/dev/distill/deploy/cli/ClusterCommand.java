package dev.distill.deploy.cli;

import dev.distill.spark.cluster.StandaloneCluster;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
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
    },
    subcommands = {ClusterCommand.Start.class, ClusterCommand.Stop.class, ClusterCommand.Url.class})
final class ClusterCommand {
  static final String DEFAULT_STATE = "runs/.cluster";

  @Command(
      name = "start",
      mixinStandardHelpOptions = true,
      description =
          "Starts the Master and the Workers, waits until every Worker registered and prints the"
              + " master URL (spark://127.0.0.1:PORT) on stdout.")
  static final class Start implements Callable<Integer> {
    @Option(names = "--workers", defaultValue = "2", description = "Workers (default 2).")
    int workers;

    @Option(names = "--cores", defaultValue = "1", description = "Cores per Worker (default 1).")
    int cores;

    @Option(
        names = "--memory",
        defaultValue = "2g",
        description =
            "Memory per Worker for its executors (default ${DEFAULT-VALUE}; an executor asks for"
                + " spark.executor.memory, 1g by default).")
    String memory;

    @Option(
        names = "--state",
        defaultValue = DEFAULT_STATE,
        description = "State folder (default ${DEFAULT-VALUE}).")
    Path state;

    @Option(
        names = "--timeout",
        defaultValue = "180",
        description = "Seconds to wait for the cluster (default ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Override
    public Integer call() throws IOException {
      StandaloneCluster.Running r =
          StandaloneCluster.start(
              state, workers, cores, memory, Duration.ofSeconds(timeoutSeconds));
      System.err.printf(
          "[cluster] %d worker(s) x %d core(s) registered; logs under %s; stop with: distill"
              + " cluster stop%n",
          workers, cores, r.stateDir());
      System.out.println(r.masterUrl());
      return 0;
    }
  }

  @Command(
      name = "stop",
      mixinStandardHelpOptions = true,
      description = "Stops the Workers (and their executors), then the Master.")
  static final class Stop implements Callable<Integer> {
    @Option(
        names = "--state",
        defaultValue = DEFAULT_STATE,
        description = "State folder (default ${DEFAULT-VALUE}).")
    Path state;

    @Override
    public Integer call() throws IOException {
      int n = StandaloneCluster.stop(state);
      System.err.printf("[cluster] stopped %d JVM(s) of %s%n", n, state);
      return 0;
    }
  }

  @Command(
      name = "url",
      mixinStandardHelpOptions = true,
      description = "Prints the master URL of the running cluster; exits 1 if none runs.")
  static final class Url implements Callable<Integer> {
    @Option(
        names = "--state",
        defaultValue = DEFAULT_STATE,
        description = "State folder (default ${DEFAULT-VALUE}).")
    Path state;

    @Override
    public Integer call() throws IOException {
      var url = StandaloneCluster.runningUrl(state);
      if (url.isEmpty()) {
        System.err.println("[cluster] no cluster runs from " + state);
        return 1;
      }
      System.out.println(url.get());
      return 0;
    }
  }
}
