package dev.distill.deploy.kafka;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real single-node KRaft broker (Kafka 3.9, combined broker + controller) in a child JVM, bound
 * to loopback, with its log dir under the run folder.
 *
 * <p>A separate process rather than in-process: the broker's own threads and logging stay out of
 * the pipeline's JVM, and {@link #close} (also run from a shutdown hook on Ctrl-C) really stops it.
 * The child runs {@code kafka.tools.StorageTool format} then {@code kafka.Kafka} from this JVM's
 * own classpath, so nothing is downloaded.
 */
public final class EmbeddedKafka implements AutoCloseable {
  private static final String BROKER_LOG_CONFIG =
      """
      <?xml version="1.0" encoding="UTF-8"?>
      <Configuration status="WARN">
        <Appenders>
          <Console name="out" target="SYSTEM_OUT">
            <PatternLayout pattern="%d{HH:mm:ss.SSS} %-5level %c{1} - %msg%n"/>
          </Console>
        </Appenders>
        <Loggers>
          <Logger name="kafka.server" level="INFO"/>
          <Logger name="kafka.Kafka" level="INFO"/>
          <Root level="WARN"><AppenderRef ref="out"/></Root>
        </Loggers>
      </Configuration>
      """;

  private final Process process;
  private final int port;
  private final Thread shutdownHook;

  private EmbeddedKafka(Process process, int port) {
    this.process = process;
    this.port = port;
    this.shutdownHook = new Thread(this::stopProcess, "embedded-kafka-shutdown");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
  }

  /**
   * Formats storage under {@code dir} and starts the broker; returns once it accepts connections.
   */
  public static EmbeddedKafka start(Path dir, Duration timeout) throws IOException {
    Files.createDirectories(dir);
    int port = freePort();
    int controllerPort = freePort();
    Path logDir = dir.resolve("data");
    Path props = dir.resolve("server.properties");
    List<String> lines =
        List.of(
            "process.roles=broker,controller",
            "node.id=1",
            "controller.quorum.voters=1@127.0.0.1:" + controllerPort,
            "listeners=PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort,
            "advertised.listeners=PLAINTEXT://127.0.0.1:" + port,
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs=" + logDir.toAbsolutePath(),
            "num.partitions=2",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=4",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=4",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=false");
    Files.write(props, lines, StandardCharsets.UTF_8);
    // The broker logs at INFO to its own file (readiness is read from it); the pipeline's JVM
    // keeps its quiet configuration.
    Path logConfig = dir.resolve("log4j2-broker.xml");
    Files.writeString(logConfig, BROKER_LOG_CONFIG);
    Path log = dir.resolve("kafka.log");
    run(
        command(
            logConfig,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            clusterId(),
            "-c",
            props.toString()),
        log,
        Duration.ofSeconds(60));
    ProcessBuilder pb = new ProcessBuilder(command(logConfig, "kafka.Kafka", props.toString()));
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    EmbeddedKafka kafka = new EmbeddedKafka(pb.start(), port);
    try {
      kafka.awaitReady(timeout, log);
    } catch (IOException | RuntimeException e) {
      kafka.close();
      throw e;
    }
    return kafka;
  }

  public String bootstrapServers() {
    return "127.0.0.1:" + port;
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  private void awaitReady(Duration timeout, Path log) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IOException(
            "Kafka broker exited with code " + process.exitValue() + "; see " + log);
      }
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 500);
        if (Files.readString(log).contains("Kafka Server started")) {
          return;
        }
      } catch (IOException notYet) {
        // not listening yet
      }
      sleep(200);
    }
    throw new IOException("Kafka broker not ready after " + timeout + "; see " + log);
  }

  private static List<String> command(Path logConfig, String mainClass, String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx512m");
    cmd.add("-Dlog4j2.configurationFile=" + logConfig.toAbsolutePath());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(mainClass);
    cmd.addAll(List.of(args));
    return cmd;
  }

  private static void run(List<String> cmd, Path log, Duration timeout) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    Process p = pb.start();
    try {
      if (!p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(cmd.get(5) + " timed out; see " + log);
      }
      if (p.exitValue() != 0) {
        throw new IOException(cmd.get(5) + " failed with code " + p.exitValue() + "; see " + log);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
      throw new IOException("interrupted", e);
    }
  }

  /**
   * A KRaft cluster id: 16 random bytes, base64url without padding (Kafka's Uuid format). Like
   * Kafka's own {@code Uuid.randomUuid()}, never one that starts with '-': StorageTool would read
   * {@code -t -abc...} as an option and fail (1 start in 64 failed that way, seen in
   * LabelCommandIT).
   */
  static String clusterId() {
    SecureRandom random = new SecureRandom();
    byte[] b = new byte[16];
    String id;
    do {
      random.nextBytes(b);
      id = Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    } while (id.startsWith("-"));
    return id;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void stopProcess() {
    if (!process.isAlive()) {
      return;
    }
    process.destroy();
    try {
      if (!process.waitFor(15, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
  }

  @Override
  public void close() {
    stopProcess();
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException shuttingDown) {
      // already in shutdown: the hook runs or ran
    }
  }
}
