package dev.distill.spark.cluster;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.launcher.JavaModuleOptions;

/**
 * A Spark standalone cluster on this machine, started from the Spark jars on this JVM's class path:
 * one {@code org.apache.spark.deploy.master.Master} and {@code workers} {@code
 * org.apache.spark.deploy.worker.Worker} JVMs, bound to loopback, on free ports. Each Worker
 * launches its executors as separate JVMs, so barrier tasks on different workers never share a JVM
 * (DJL's one-gradient-collector-per-JVM limit, issue 16).
 *
 * <p>A Worker builds its executor's command with Spark's launcher ({@code WorkerCommandBuilder}):
 * class path = the app's {@code spark.executor.extraClassPath}, {@code $SPARK_HOME/conf}, {@code
 * $SPARK_HOME/jars/*} (required: it fails when the folder is missing), then {@code
 * SPARK_DIST_CLASSPATH}. The Scala version is taken from {@code SPARK_SCALA_VERSION} or from a
 * source build's {@code launcher/target} folders. So the state folder is made a minimal SPARK_HOME:
 * {@code jars/} holds symlinks to the jars of this class path, class-path folders (a Maven build's
 * {@code target/classes}) go to {@code SPARK_DIST_CLASSPATH}, and the Workers get {@code
 * SPARK_SCALA_VERSION=2.13}. Executors then see every class the driver sees, without spark-submit.
 *
 * <p>State folder layout: {@code jars/}, {@code master.log}, {@code worker-N.log}, {@code
 * worker-N/} (executor work folders, with each executor's stdout/stderr), {@code *.pid}, {@code
 * master-url}. {@link #stop} kills the JVMs named by the pid files (Workers kill their executors on
 * shutdown).
 */
public final class StandaloneCluster {
  /** Spark's Scala binary version (spark-core_2.13). */
  static final String SCALA_VERSION = "2.13";

  private static final Pattern MASTER_PORT =
      Pattern.compile("Successfully started service 'sparkMaster' on port (\\d+)");

  private static final String LOG4J2 =
      String.join(
          "\n",
          "rootLogger.level = info",
          "rootLogger.appenderRef.console.ref = console",
          "appender.console.type = Console",
          "appender.console.name = console",
          "appender.console.target = SYSTEM_ERR",
          "appender.console.layout.type = PatternLayout",
          "appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex",
          "logger.jetty.name = org.sparkproject.jetty",
          "logger.jetty.level = warn",
          "");

  private StandaloneCluster() {}

  /** A started cluster. */
  public record Running(String masterUrl, Path stateDir, List<Long> pids) {}

  /**
   * Starts a Master and {@code workers} Workers with {@code cores} cores and {@code memory} (e.g.
   * {@code 2g}) each, and waits until every Worker has registered. Fails if {@code stateDir} holds
   * a running cluster; on any failure it stops what it started.
   */
  public static Running start(
      Path stateDir, int workers, int cores, String memory, Duration timeout) throws IOException {
    if (workers < 1 || cores < 1) {
      throw new IllegalArgumentException(
          "workers and cores must be >= 1, got " + workers + " and " + cores);
    }
    if (!memory.matches("\\d+[mMgG]")) {
      throw new IllegalArgumentException("memory must look like 512m or 2g, got '" + memory + "'");
    }
    Optional<String> existing = runningUrl(stateDir);
    if (existing.isPresent()) {
      throw new IllegalStateException(
          "a cluster from "
              + stateDir
              + " is running at "
              + existing.get()
              + ": stop it first (distill cluster stop)");
    }
    stopQuietly(stateDir); // stale pid files of a dead cluster
    Files.createDirectories(stateDir);
    Path home = stateDir.toAbsolutePath();
    List<String> dirs = sparkHome(home);
    // Our own log configuration: the daemons' readiness is read from their INFO lines, and a
    // log4j2.xml in a jar of the class path (deploy's, WARN) would hide them. conf/ is on every
    // executor's class path too, and log4j2.properties wins over a jar's log4j2.xml there.
    Files.createDirectories(home.resolve("conf"));
    Files.writeString(
        home.resolve("conf").resolve("log4j2.properties"), LOG4J2, StandardCharsets.UTF_8);
    Path props = home.resolve("spark-cluster.properties");
    // No REST submission server (another listening port nobody here uses).
    Files.writeString(props, "spark.master.rest.enabled=false\n", StandardCharsets.UTF_8);
    List<Long> pids = new ArrayList<>();
    try {
      Process master =
          launch(
              home,
              dirs,
              "master",
              1,
              List.of(
                  "org.apache.spark.deploy.master.Master",
                  "--host",
                  "127.0.0.1",
                  "--port",
                  "0",
                  "--webui-port",
                  "0",
                  "--properties-file",
                  props.toString()));
      pids.add(master.pid());
      long deadline = System.nanoTime() + timeout.toNanos();
      String port = awaitLog(home.resolve("master.log"), MASTER_PORT, master, deadline);
      String url = "spark://127.0.0.1:" + port;
      awaitLog(home.resolve("master.log"), Pattern.compile("New state: ALIVE"), master, deadline);
      List<Process> started = new ArrayList<>();
      for (int w = 0; w < workers; w++) {
        Path work = home.resolve("worker-" + w);
        Files.createDirectories(work);
        Process p =
            launch(
                home,
                dirs,
                "worker-" + w,
                cores,
                List.of(
                    "org.apache.spark.deploy.worker.Worker",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--webui-port",
                    "0",
                    "--cores",
                    Integer.toString(cores),
                    "--memory",
                    memory,
                    "--work-dir",
                    work.toString(),
                    "--properties-file",
                    props.toString(),
                    url));
        pids.add(p.pid());
        started.add(p);
      }
      for (int w = 0; w < workers; w++) {
        awaitLog(
            home.resolve("worker-" + w + ".log"),
            Pattern.compile("Successfully registered with master"),
            started.get(w),
            deadline);
      }
      Files.writeString(home.resolve("master-url"), url + "\n", StandardCharsets.UTF_8);
      return new Running(url, home, pids);
    } catch (IOException | RuntimeException e) {
      stopQuietly(stateDir);
      throw e;
    }
  }

  /** The master URL of the cluster whose state is in {@code stateDir}, if its Master is alive. */
  public static Optional<String> runningUrl(Path stateDir) throws IOException {
    Path url = stateDir.resolve("master-url");
    if (!Files.isRegularFile(url) || alive(stateDir.resolve("master.pid")).isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(Files.readString(url).trim());
  }

  /**
   * Stops the cluster of {@code stateDir}: Workers first (each kills its executors), then the
   * Master; SIGTERM, then SIGKILL after 20 s. Returns how many JVMs were running.
   */
  public static int stop(Path stateDir) throws IOException {
    if (!Files.isDirectory(stateDir)) {
      return 0;
    }
    List<Path> pidFiles = new ArrayList<>();
    try (var s = Files.list(stateDir)) {
      s.filter(p -> p.getFileName().toString().endsWith(".pid")).sorted().forEach(pidFiles::add);
    }
    // worker-*.pid sort after master.pid: stop them first
    pidFiles.sort((a, b) -> Boolean.compare(isMaster(a), isMaster(b)));
    int stopped = 0;
    for (Path f : pidFiles) {
      Optional<ProcessHandle> h = alive(f);
      if (h.isPresent()) {
        Set<ProcessHandle> tree = new LinkedHashSet<>();
        h.get().descendants().forEach(tree::add); // executors, in case the Worker dies first
        h.get().destroy();
        if (!waitFor(h.get(), Duration.ofSeconds(20))) {
          h.get().destroyForcibly();
          waitFor(h.get(), Duration.ofSeconds(10));
        }
        for (ProcessHandle child : tree) {
          if (child.isAlive()) {
            child.destroyForcibly();
          }
        }
        stopped++;
      }
      Files.deleteIfExists(f);
    }
    Files.deleteIfExists(stateDir.resolve("master-url"));
    return stopped;
  }

  private static boolean isMaster(Path pidFile) {
    return pidFile.getFileName().toString().equals("master.pid");
  }

  private static void stopQuietly(Path stateDir) {
    try {
      stop(stateDir);
    } catch (IOException | RuntimeException e) {
      System.err.println("[cluster] could not stop " + stateDir + ": " + e.getMessage());
    }
  }

  /** The process of a pid file, if alive and still a Spark daemon JVM (pids get reused). */
  private static Optional<ProcessHandle> alive(Path pidFile) throws IOException {
    if (!Files.isRegularFile(pidFile)) {
      return Optional.empty();
    }
    long pid;
    try {
      pid = Long.parseLong(Files.readString(pidFile).trim());
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
    return ProcessHandle.of(pid)
        .filter(ProcessHandle::isAlive)
        .filter(
            h ->
                h.info()
                    .arguments()
                    .map(a -> Arrays.stream(a).anyMatch(x -> x.startsWith("org.apache.spark.")))
                    .orElse(true));
  }

  private static boolean waitFor(ProcessHandle h, Duration d) {
    try {
      h.onExit().get(d.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
      return true;
    } catch (java.util.concurrent.TimeoutException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (java.util.concurrent.ExecutionException e) {
      return !h.isAlive();
    }
  }

  /**
   * Makes {@code home} a minimal SPARK_HOME: {@code jars/} with a symlink to every jar of this
   * class path. Returns the class-path folders, which cannot be linked into {@code jars/*}.
   */
  static List<String> sparkHome(Path home) throws IOException {
    Path jars = home.resolve("jars");
    if (Files.isDirectory(jars)) {
      try (var s = Files.list(jars)) {
        for (Path p : (Iterable<Path>) s::iterator) {
          Files.delete(p);
        }
      }
    }
    Files.createDirectories(jars);
    List<String> dirs = new ArrayList<>();
    Set<String> names = new LinkedHashSet<>();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (entry.isEmpty()) {
        continue;
      }
      Path p = Path.of(entry).toAbsolutePath();
      if (Files.isDirectory(p)) {
        dirs.add(p.toString());
      } else if (Files.isRegularFile(p) && p.getFileName().toString().endsWith(".jar")) {
        // The first of two same-named jars wins, as it does on the class path.
        if (names.add(p.getFileName().toString())) {
          Files.createSymbolicLink(jars.resolve(p.getFileName()), p);
        }
      }
    }
    if (names.stream().noneMatch(n -> n.startsWith("spark-core_"))) {
      throw new IllegalStateException(
          "no spark-core jar on this class path: start the cluster from the distill"
              + " distribution (deploy/target/lib)");
    }
    return dirs;
  }

  private static Process launch(
      Path home, List<String> dirs, String name, int threads, List<String> mainArgs)
      throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    // Spark's own JVM flags for Java 17+, as spark-class adds them.
    cmd.addAll(Arrays.asList(JavaModuleOptions.defaultModuleOptionArray()));
    cmd.add("-Xmx512m"); // the daemons are small; executors get spark.executor.memory
    cmd.add("-Dlog4j2.configurationFile=" + home.resolve("conf").resolve("log4j2.properties"));
    cmd.add("-cp");
    // Spark's jars only: the daemons need no application class (executors get `dirs` below).
    cmd.add(home.resolve("jars") + File.separator + "*");
    cmd.addAll(mainArgs);
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put("SPARK_HOME", home.toString());
    pb.environment().put("SPARK_SCALA_VERSION", SCALA_VERSION);
    pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1"); // web UIs too bind to loopback
    pb.environment().put("SPARK_DIST_CLASSPATH", String.join(File.pathSeparator, dirs));
    pb.environment().remove("SPARK_TESTING");
    // Executors inherit the Worker's environment: libtorch (DJL) and other OpenMP code then use
    // the Worker's cores, not every core of the machine each (oversubscription).
    pb.environment().put("OMP_NUM_THREADS", Integer.toString(threads));
    pb.redirectErrorStream(true);
    Path log = home.resolve(name + ".log");
    pb.redirectOutput(log.toFile());
    pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    Process p = pb.start();
    Files.writeString(home.resolve(name + ".pid"), p.pid() + "\n", StandardCharsets.UTF_8);
    return p;
  }

  /** Waits until {@code log} matches {@code pattern}; returns group 1 (or the match). */
  private static String awaitLog(Path log, Pattern pattern, Process p, long deadline)
      throws IOException {
    while (true) {
      if (Files.isRegularFile(log)) {
        Matcher m = pattern.matcher(Files.readString(log, StandardCharsets.UTF_8));
        if (m.find()) {
          return m.groupCount() > 0 ? m.group(1) : m.group();
        }
      }
      if (!p.isAlive()) {
        throw new IllegalStateException(
            log.getFileName() + ": the JVM exited (" + p.exitValue() + "): " + tail(log));
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            log.getFileName() + ": no '" + pattern + "' in time: " + tail(log));
      }
      try {
        Thread.sleep(250);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while starting the cluster", e);
      }
    }
  }

  private static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join(" | ", lines.subList(Math.max(0, lines.size() - 5), lines.size()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
