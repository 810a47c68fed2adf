package dev.distill.teacher.http;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;

/**
 * How the HTTP API listens and what it accepts.
 *
 * @param host address to bind; loopback unless a bearer token is set
 * @param port 0 for any free port
 * @param bearerToken null for no auth (loopback only); never printed by {@link #toString()}
 * @param maxBodyBytes larger request bodies are answered 413
 * @param maxK largest {@code k} / {@code logprobs} a request may ask for (400 above)
 * @param maxTokens largest {@code max_tokens} a completion may ask for (400 above)
 * @param threads HTTP worker threads
 * @param maxInFlight requests admitted to the teacher at once; more are answered 503
 * @param tokenBudget dynamic batching: tokens per teacher batch
 * @param maxWait dynamic batching: longest wait for a batch to fill
 */
public record ServerConfig(
    String host,
    int port,
    String bearerToken,
    long maxBodyBytes,
    int maxK,
    int maxTokens,
    int threads,
    int maxInFlight,
    int tokenBudget,
    Duration maxWait) {
  public ServerConfig {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be in [0, 65535], got " + port);
    }
    if (bearerToken != null && bearerToken.length() < 16) {
      throw new IllegalArgumentException("bearer token must have at least 16 characters");
    }
    if (maxBodyBytes < 1 || maxK < 1 || maxTokens < 0 || threads < 1 || maxInFlight < 1) {
      throw new IllegalArgumentException(
          "maxBodyBytes, maxK, threads and maxInFlight must be >= 1 and maxTokens >= 0");
    }
    if (tokenBudget < 1 || maxWait.isNegative()) {
      throw new IllegalArgumentException("tokenBudget must be >= 1 and maxWait >= 0");
    }
    boolean loopback;
    try {
      loopback = InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("cannot resolve bind host " + host, e);
    }
    if (!loopback && bearerToken == null) {
      throw new IllegalArgumentException(
          "refusing to bind " + host + " (not loopback) without a bearer token");
    }
  }

  /** Loopback, any free port, no token, and the default limits. */
  public static ServerConfig loopback() {
    return new ServerConfig(
        "127.0.0.1", 0, null, 1 << 20, 64, 256, 8, 64, 4096, Duration.ofMillis(5));
  }

  public ServerConfig withToken(String token) {
    return new ServerConfig(
        host,
        port,
        token,
        maxBodyBytes,
        maxK,
        maxTokens,
        threads,
        maxInFlight,
        tokenBudget,
        maxWait);
  }

  public ServerConfig withLimits(long body, int k, int tokens, int inFlight) {
    return new ServerConfig(
        host, port, bearerToken, body, k, tokens, threads, inFlight, tokenBudget, maxWait);
  }

  @Override
  public String toString() {
    return "ServerConfig[host="
        + host
        + ", port="
        + port
        + ", bearerToken="
        + (bearerToken == null ? "none" : "<redacted>")
        + ", maxBodyBytes="
        + maxBodyBytes
        + ", maxK="
        + maxK
        + ", maxTokens="
        + maxTokens
        + ", threads="
        + threads
        + ", maxInFlight="
        + maxInFlight
        + ", tokenBudget="
        + tokenBudget
        + ", maxWait="
        + maxWait
        + "]";
  }
}
