package dev.distill.teacher.remote;

import java.net.URI;
import java.time.Duration;

/**
 * A remote OpenAI-compatible teacher (vLLM, TGI, llama.cpp server, or this service's own {@code
 * /v1/completions}).
 *
 * @param baseUrl e.g. {@code http://127.0.0.1:8000} (the client appends {@code /v1/completions})
 * @param model the model name sent in each request
 * @param apiKey sent as a bearer token; null for none; never printed by {@link #toString()}
 * @param topK top log-probabilities asked per position
 * @param temperature T of the soft labels we store
 * @param remoteTemperature T at which the endpoint reports log-probabilities (1 for vLLM and the
 *     OpenAI API, which report the model's own distribution)
 * @param maxSequenceTokens longest sequence sent in one request
 * @param maxConcurrency requests in flight at once
 * @param connectTimeout TCP connect timeout
 * @param requestTimeout whole-request timeout
 * @param retries retries of a failed request (timeouts, 429, 5xx) before giving up
 * @param backoff first retry delay; doubled per retry, plus up to 50% jitter
 */
public record RemoteTeacherConfig(
    URI baseUrl,
    String model,
    String apiKey,
    int topK,
    float temperature,
    float remoteTemperature,
    int maxSequenceTokens,
    int maxConcurrency,
    Duration connectTimeout,
    Duration requestTimeout,
    int retries,
    Duration backoff) {
  public RemoteTeacherConfig {
    if (baseUrl == null
        || !("http".equals(baseUrl.getScheme()) || "https".equals(baseUrl.getScheme()))) {
      throw new IllegalArgumentException("baseUrl must be an http(s) URL, got " + baseUrl);
    }
    if (model == null || model.isBlank()) {
      throw new IllegalArgumentException("model is required");
    }
    if (topK < 1 || topK > 1024) {
      throw new IllegalArgumentException("topK must be in [1, 1024], got " + topK);
    }
    if (!(temperature > 0f) || !Float.isFinite(temperature)) {
      throw new IllegalArgumentException("temperature must be finite and > 0");
    }
    if (!(remoteTemperature > 0f) || !Float.isFinite(remoteTemperature)) {
      throw new IllegalArgumentException("remoteTemperature must be finite and > 0");
    }
    if (maxSequenceTokens < 2 || maxConcurrency < 1 || retries < 0) {
      throw new IllegalArgumentException(
          "maxSequenceTokens >= 2, maxConcurrency >= 1 and retries >= 0 needed");
    }
    if (connectTimeout.isNegative()
        || connectTimeout.isZero()
        || requestTimeout.isNegative()
        || requestTimeout.isZero()
        || backoff.isNegative()) {
      throw new IllegalArgumentException("timeouts must be > 0 and backoff >= 0");
    }
  }

  @Override
  public String toString() {
    return "RemoteTeacherConfig[baseUrl="
        + baseUrl
        + ", model="
        + model
        + ", apiKey="
        + (apiKey == null ? "none" : "<redacted>")
        + ", topK="
        + topK
        + ", temperature="
        + temperature
        + ", remoteTemperature="
        + remoteTemperature
        + ", maxSequenceTokens="
        + maxSequenceTokens
        + ", maxConcurrency="
        + maxConcurrency
        + ", connectTimeout="
        + connectTimeout
        + ", requestTimeout="
        + requestTimeout
        + ", retries="
        + retries
        + ", backoff="
        + backoff
        + "]";
  }
}
