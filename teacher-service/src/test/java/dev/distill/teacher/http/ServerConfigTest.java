package dev.distill.teacher.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ServerConfigTest {
  @Test
  void builderStartsFromTheLoopbackDefaultsAndToBuilderKeepsEveryValue() {
    ServerConfig c =
        ServerConfig.builder()
            .optPort(8080)
            .optBearerToken("0123456789abcdef")
            .optMaxBodyBytes(2048)
            .optMaxK(5)
            .optMaxTokens(7)
            .optThreads(3)
            .optMaxInFlight(9)
            .optTokenBudget(11)
            .optMaxWait(Duration.ofMillis(13))
            .build();
    assertThat(c)
        .isEqualTo(
            new ServerConfig(
                "127.0.0.1",
                8080,
                "0123456789abcdef",
                2048,
                5,
                7,
                3,
                9,
                11,
                Duration.ofMillis(13)));
    assertThat(c.toBuilder().build()).isEqualTo(c);
    assertThat(ServerConfig.builder().build())
        .isEqualTo(
            new ServerConfig(
                "127.0.0.1", 0, null, 1 << 20, 64, 256, 8, 64, 4096, Duration.ofMillis(5)));
  }

  @Test
  void buildRejectsInvalidValuesWithTheReason() {
    assertThatThrownBy(() -> ServerConfig.builder().optPort(70000).build())
        .hasMessageContaining("port must be in [0, 65535]");
    assertThatThrownBy(() -> ServerConfig.builder().optThreads(0).build())
        .hasMessageContaining("threads");
    assertThatThrownBy(() -> ServerConfig.builder().optBearerToken("short").build())
        .hasMessageContaining("at least 16 characters");
    assertThatThrownBy(() -> ServerConfig.builder().optHost("0.0.0.0").build())
        .hasMessageContaining("not loopback");
    assertThatThrownBy(() -> ServerConfig.builder().optMaxWait(null).build())
        .hasMessageContaining("maxWait");
  }
}
