package dev.distill.teacher.kafka;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.Uuid;

/**
 * A single-node KRaft broker (combined mode) in a child JVM on fixed loopback ports, so that it can
 * be killed and restarted on the same log dir and address (REFERENCE.md, "Kafka without Docker").
 */
final class ChildBroker implements AutoCloseable {
  private final Path dir;
  private final int port;
  private Process process;

  ChildBroker(Path dir) throws Exception {
    this.dir = dir;
    this.port = freePort();
    int controller = freePort();
    Files.createDirectories(dir);
    Files.write(
        dir.resolve("server.properties"),
        List.of(
            "process.roles=broker,controller",
            "node.id=1",
            "controller.quorum.voters=1@127.0.0.1:" + controller,
            "listeners=PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controller,
            "advertised.listeners=PLAINTEXT://127.0.0.1:" + port,
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs=" + dir.resolve("data").toAbsolutePath(),
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=2",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=2",
            "group.initial.rebalance.delay.ms=0",
            "transaction.abort.timed.out.transaction.cleanup.interval.ms=1000"));
    // Kafka's own random cluster id never starts with '-', which StorageTool would read as an
    // option ("argument --cluster-id/-t: expected one argument"; 1 random id in 64 did).
    String clusterId = Uuid.randomUuid().toString();
    Process format =
        new ProcessBuilder(
                command(
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    clusterId,
                    "-c",
                    dir.resolve("server.properties").toString()))
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("format.log").toFile())
            .start();
    if (!format.waitFor(60, TimeUnit.SECONDS) || format.exitValue() != 0) {
      throw new IOException(
          "StorageTool format failed: " + Files.readString(dir.resolve("format.log")));
    }
    start();
  }

  String bootstrapServers() {
    return "127.0.0.1:" + port;
  }

  void start() throws Exception {
    process =
        new ProcessBuilder(command("kafka.Kafka", dir.resolve("server.properties").toString()))
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("broker.log").toFile()))
            .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IOException("broker exited: " + Files.readString(dir.resolve("broker.log")));
      }
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 300);
        return;
      } catch (IOException notYet) {
        Thread.sleep(200);
      }
    }
    throw new IOException("broker not listening after 60 s");
  }

  /** SIGKILL: no clean shutdown, as in a crash. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(20, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws InterruptedException {
    if (process != null && process.isAlive()) {
      process.destroy();
      if (!process.waitFor(20, TimeUnit.SECONDS)) {
        kill();
      }
    }
  }

  private static List<String> command(String main, String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx512m");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(main);
    cmd.addAll(List.of(args));
    return cmd;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
