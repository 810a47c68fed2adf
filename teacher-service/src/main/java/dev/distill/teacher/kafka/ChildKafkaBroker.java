package dev.distill.teacher.kafka;

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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real single-node KRaft broker (Kafka 3.9, combined broker + controller) in a child JVM, bound
 * to loopback on ports fixed at {@link #format}, so it can be killed and started again on the same
 * log dir and address (REFERENCE.md, "Kafka without Docker"). The one launcher of deploy's {@code
 * EmbeddedKafka} (the local pipeline's broker) and teacher-service's broker-restart tests.
 *
 * <p>The child runs {@code kafka.tools.StorageTool format} then {@code kafka.Kafka} from this JVM's
 * own classpath (the caller brings {@code kafka_2.13}; no Kafka class is imported here), so nothing
 * is downloaded. The broker logs at INFO to {@code <dir>/kafka.log}; it is ready when it accepts
 * connections and has logged "Kafka Server started" since this start.
 */
public final class ChildKafkaBroker implements AutoCloseable {
  private static final String LOG_CONFIG =
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

  private final Path dir;
  private final int port;
  private Process process;

  private ChildKafkaBroker(Path dir, int port) {
    this.dir = dir;
    this.port = port;
  }

  /**
   * Writes {@code server.properties} under {@code dir} (single-node settings, then {@code
   * overrides}) and formats the storage; the broker is not started.
   */
  public static ChildKafkaBroker format(Path dir, Map<String, String> overrides)
      throws IOException {
    Files.createDirectories(dir);
    int port = freePort();
    int controllerPort = freePort();
    Map<String, String> props = new LinkedHashMap<>();
    props.put("process.roles", "broker,controller");
    props.put("node.id", "1");
    props.put("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
    props.put(
        "listeners", "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort);
    props.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + port);
    props.put("controller.listener.names", "CONTROLLER");
    props.put("inter.broker.listener.name", "PLAINTEXT");
    props.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
    props.put("log.dirs", dir.resolve("data").toAbsolutePath().toString());
    // One broker: every internal topic with one replica (REFERENCE.md).
    props.put("offsets.topic.replication.factor", "1");
    props.put("transaction.state.log.replication.factor", "1");
    props.put("transaction.state.log.min.isr", "1");
    props.put("group.initial.rebalance.delay.ms", "0");
    props.putAll(overrides);
    List<String> lines = new ArrayList<>();
    props.forEach((k, v) -> lines.add(k + "=" + v));
    Files.write(dir.resolve("server.properties"), lines, StandardCharsets.UTF_8);
    Files.writeString(dir.resolve("log4j2-broker.xml"), LOG_CONFIG);
    ChildKafkaBroker broker = new ChildKafkaBroker(dir, port);
    broker.runToEnd(
        broker.command(
            "kafka.tools.StorageTool",
            "format",
            "-t",
            clusterId(),
            "-c",
            dir.resolve("server.properties").toString()),
        Duration.ofSeconds(60));
    return broker;
  }

  public String bootstrapServers() {
    return "127.0.0.1:" + port;
  }

  public boolean isAlive() {
    return process != null && process.isAlive();
  }

  /** Starts the broker (again, after {@link #kill} or {@link #stop}); returns once it is ready. */
  public void start(Duration timeout) throws IOException {
    if (isAlive()) {
      throw new IllegalStateException("broker in " + dir + " is already running");
    }
    Path log = log();
    long from = Files.exists(log) ? Files.size(log) : 0;
    ProcessBuilder pb =
        new ProcessBuilder(command("kafka.Kafka", dir.resolve("server.properties").toString()));
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    process = pb.start();
    try {
      awaitReady(timeout, from);
    } catch (IOException | RuntimeException e) {
      stop();
      throw e;
    }
  }

  /** SIGKILL: no clean shutdown, as in a crash. */
  public void kill() throws InterruptedException {
    if (process != null) {
      process.destroyForcibly().waitFor(20, TimeUnit.SECONDS);
    }
  }

  /** A clean shutdown (SIGTERM), then SIGKILL after 15 s. */
  public void stop() {
    if (!isAlive()) {
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
    stop();
  }

  private Path log() {
    return dir.resolve("kafka.log");
  }

  private void awaitReady(Duration timeout, long logFrom) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IOException(
            "Kafka broker exited with code " + process.exitValue() + "; see " + log());
      }
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 500);
        String text = Files.readString(log(), StandardCharsets.UTF_8);
        if (text.length() > logFrom
            && text.substring((int) logFrom).contains("Kafka Server started")) {
          return;
        }
      } catch (IOException notYet) {
        // not listening yet
      }
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while waiting for the broker in " + dir, e);
      }
    }
    throw new IOException("Kafka broker not ready after " + timeout + "; see " + log());
  }

  private List<String> command(String mainClass, String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx512m");
    cmd.add("-Dlog4j2.configurationFile=" + dir.resolve("log4j2-broker.xml").toAbsolutePath());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(mainClass);
    cmd.addAll(List.of(args));
    return cmd;
  }

  private void runToEnd(List<String> cmd, Duration timeout) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log().toFile()));
    Process p = pb.start();
    String what = cmd.get(5);
    try {
      if (!p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(what + " timed out; see " + log());
      }
      if (p.exitValue() != 0) {
        throw new IOException(what + " failed with code " + p.exitValue() + "; see " + log());
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
  public static String clusterId() {
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
}
