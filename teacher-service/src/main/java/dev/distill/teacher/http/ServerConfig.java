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
    return builder().build();
  }

  /**
   * A builder that starts from {@link #loopback()}'s values: loopback, any free port, no token, 1
   * MiB bodies, k and logprobs up to 64, 256 tokens a completion, 8 threads, 64 requests in flight,
   * 4096 tokens a batch, 5 ms wait.
   */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding this configuration's values. */
  public Builder toBuilder() {
    return new Builder()
        .optHost(host)
        .optPort(port)
        .optBearerToken(bearerToken)
        .optMaxBodyBytes(maxBodyBytes)
        .optMaxK(maxK)
        .optMaxTokens(maxTokens)
        .optThreads(threads)
        .optMaxInFlight(maxInFlight)
        .optTokenBudget(tokenBudget)
        .optMaxWait(maxWait);
  }

  /**
   * Builds a {@link ServerConfig} (DJL's {@code builder().optX().build()} style); every value has a
   * default, and {@link #build()} validates them all, as the record's constructor does.
   */
  public static final class Builder {
    private String host = "127.0.0.1";
    private int port;
    private String bearerToken;
    private long maxBodyBytes = 1 << 20;
    private int maxK = 64;
    private int maxTokens = 256;
    private int threads = 8;
    private int maxInFlight = 64;
    private int tokenBudget = 4096;
    private Duration maxWait = Duration.ofMillis(5);

    private Builder() {}

    public Builder optHost(String host) {
      this.host = host;
      return this;
    }

    public Builder optPort(int port) {
      this.port = port;
      return this;
    }

    /** null: no auth, which only a loopback host allows. */
    public Builder optBearerToken(String bearerToken) {
      this.bearerToken = bearerToken;
      return this;
    }

    public Builder optMaxBodyBytes(long maxBodyBytes) {
      this.maxBodyBytes = maxBodyBytes;
      return this;
    }

    public Builder optMaxK(int maxK) {
      this.maxK = maxK;
      return this;
    }

    public Builder optMaxTokens(int maxTokens) {
      this.maxTokens = maxTokens;
      return this;
    }

    public Builder optThreads(int threads) {
      this.threads = threads;
      return this;
    }

    public Builder optMaxInFlight(int maxInFlight) {
      this.maxInFlight = maxInFlight;
      return this;
    }

    public Builder optTokenBudget(int tokenBudget) {
      this.tokenBudget = tokenBudget;
      return this;
    }

    public Builder optMaxWait(Duration maxWait) {
      this.maxWait = maxWait;
      return this;
    }

    /**
     * The configuration; {@link IllegalArgumentException} naming the first invalid value (a
     * non-loopback host without a token included).
     */
    public ServerConfig build() {
      if (host == null || maxWait == null) {
        throw new IllegalArgumentException("ServerConfig: host and maxWait must be set");
      }
      return new ServerConfig(
          host,
          port,
          bearerToken,
          maxBodyBytes,
          maxK,
          maxTokens,
          threads,
          maxInFlight,
          tokenBudget,
          maxWait);
    }
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
