package dev.distill.deploy.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.distill.teacher.kafka.ChildKafkaBroker;
import dev.distill.teacher.kafka.Topics;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedded broker really runs, serves admin requests, and really stops. */
class EmbeddedKafkaIT {
  @TempDir Path dir;

  @Test
  void startsServesAndStopsACombinedKraftBrokerOnLoopback() throws Exception {
    String bootstrap;
    try (EmbeddedKafka kafka = EmbeddedKafka.start(dir, Duration.ofSeconds(90))) {
      bootstrap = kafka.bootstrapServers();
      assertThat(bootstrap).startsWith("127.0.0.1:");
      assertThat(kafka.isAlive()).isTrue();
      Topics.ensure(bootstrap, Map.of(), "probe", 1, (short) 1);
      assertThat(dir.resolve("data")).isDirectory();
    }
    String[] hostPort = bootstrap.split(":");
    assertThatThrownBy(
            () -> {
              try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(hostPort[0], Integer.parseInt(hostPort[1])), 500);
              }
            })
        .isInstanceOf(IOException.class);
  }

  @Test
  void clusterIdsAreKafkaUuidShaped() {
    String id = ChildKafkaBroker.clusterId();
    assertThat(id).hasSize(22).matches("[A-Za-z0-9_-]+");
    assertThat(ChildKafkaBroker.clusterId()).isNotEqualTo(id);
    // StorageTool's argument parser takes an id starting with '-' for an option (1 draw in 64)
    for (int i = 0; i < 2000; i++) {
      assertThat(ChildKafkaBroker.clusterId()).doesNotStartWith("-");
    }
  }
}
