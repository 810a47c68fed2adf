package dev.distill.teacher.http;

import java.time.Duration;

/** Server settings shared by the HTTP integration tests here and in the remote teacher's. */
public final class TestServers {
  private TestServers() {}

  /**
   * The integration tests' server: {@code token}, 64 KiB bodies, k up to 16, 32 tokens a
   * completion, 50 ms batching wait.
   */
  public static ServerConfig config(String token) {
    return ServerConfig.builder()
        .optBearerToken(token)
        .optMaxBodyBytes(1 << 16)
        .optMaxK(16)
        .optMaxTokens(32)
        .optMaxWait(Duration.ofMillis(50))
        .build();
  }
}
