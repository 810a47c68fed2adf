package dev.distill.teacher.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.distill.teacher.service.TeacherMetrics;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The HTTP layer's limits and auth, with a stand-in teacher whose speed the test controls. */
class TeacherHttpServerTest {
  static final String TOKEN = "s3cret-token-0123456789";
  final HttpClient http = HttpClient.newHttpClient();

  private HttpResponse<String> post(TeacherHttpServer s, String path, String body, String token)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(s.baseUri() + path))
            .timeout(Duration.ofSeconds(20))
            .POST(HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> get(TeacherHttpServer s, String path, String token)
      throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(s.baseUri() + path)).GET();
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** A server whose teacher answers at once: k up to 2, 4 tokens, 4 requests in flight. */
  private static TeacherHttpServer openServer(long maxBodyBytes) throws IOException {
    return new TeacherHttpServer(
        ServerConfig.builder()
            .optMaxBodyBytes(maxBodyBytes)
            .optMaxK(2)
            .optMaxTokens(4)
            .optMaxInFlight(4)
            .build(),
        new GatedTeacher(new CountDownLatch(0)),
        new TeacherMetrics());
  }

  @Test
  void nonLoopbackBindWithoutTokenIsRefusedAndTokenNeverPrinted() {
    ServerConfig c = ServerConfig.loopback();
    assertThatThrownBy(() -> ServerConfig.builder().optHost("0.0.0.0").build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("without a bearer token");
    ServerConfig open = ServerConfig.builder().optHost("0.0.0.0").optBearerToken(TOKEN).build();
    assertThat(open.toString()).doesNotContain(TOKEN).contains("<redacted>");
    assertThat(c.toBuilder().optBearerToken(TOKEN).build().toString()).doesNotContain(TOKEN);
  }

  @Test
  void bearerTokenIsRequiredExceptOnProbesAndNeverAppearsInMetrics() throws Exception {
    try (TeacherHttpServer s =
        new TeacherHttpServer(
            ServerConfig.builder().optBearerToken(TOKEN).build(),
            new GatedTeacher(new CountDownLatch(0)),
            new TeacherMetrics())) {
      s.start();
      assertThat(get(s, "/healthz", null).statusCode()).isEqualTo(200);
      assertThat(get(s, "/readyz", null).statusCode()).isEqualTo(200);
      assertThat(get(s, "/metrics", null).statusCode()).isEqualTo(401);
      HttpResponse<String> wrong = post(s, "/v1/soft-labels", "{\"text\":\"abc\"}", "x" + TOKEN);
      assertThat(wrong.statusCode()).isEqualTo(401);
      assertThat(wrong.headers().firstValue("WWW-Authenticate")).contains("Bearer");
      String sameLength = TOKEN.substring(0, TOKEN.length() - 1) + "X";
      assertThat(post(s, "/v1/soft-labels", "{\"text\":\"abc\"}", sameLength).statusCode())
          .isEqualTo(401);
      HttpResponse<String> ok = post(s, "/v1/soft-labels", "{\"text\":\"abc\"}", TOKEN);
      assertThat(ok.statusCode()).isEqualTo(200);
      assertThat(ok.body()).contains("\"top_ids\":[[0,1],[0,1]]").contains("\"tail_mass\"");
      HttpResponse<String> metrics = get(s, "/metrics", TOKEN);
      assertThat(metrics.statusCode()).isEqualTo(200);
      assertThat(metrics.body())
          .contains("distill_http_request_seconds_bucket")
          .contains("distill_http_rejected_requests_total{reason=\"unauthorized\"} 3.0")
          .doesNotContain(TOKEN);
    }
  }

  @Test
  void oversizedBodyIs413AndLimitsAndBadInputAre400() throws Exception {
    try (TeacherHttpServer s = openServer(64)) {
      s.start();
      String big = "{\"text\":\"" + "a".repeat(100) + "\"}";
      assertThat(post(s, "/v1/soft-labels", big, null).statusCode()).isEqualTo(413);
      assertThat(post(s, "/v1/soft-labels", "{\"text\":\"abc\",\"k\":3}", null).statusCode())
          .isEqualTo(400);
      assertThat(post(s, "/v1/soft-labels", "{\"text\":\"abc\",\"k\":0}", null).statusCode())
          .isEqualTo(400);
      HttpResponse<String> tooLong = post(s, "/v1/soft-labels", "{\"text\":\"abcdefghij\"}", null);
      assertThat(tooLong.statusCode()).isEqualTo(400);
      assertThat(tooLong.body()).contains("10 tokens");
      assertThat(post(s, "/v1/soft-labels", "{\"tokens\":[0,9]}", null).body())
          .contains("outside [0, 4)");
      assertThat(post(s, "/v1/soft-labels", "not json", null).statusCode()).isEqualTo(400);
      assertThat(
              post(s, "/v1/soft-labels", "{\"text\":\"ab\",\"temperature\":\"hot\"}", null)
                  .statusCode())
          .isEqualTo(400);
      assertThat(post(s, "/v1/soft-labels", "{\"text\":\"ab\",\"k\":1}", null).body())
          .contains("\"top_ids\":[[0]]")
          .contains("\"tail_mass\":[0.25]");
      HttpRequest badUtf8 =
          HttpRequest.newBuilder(URI.create(s.baseUri() + "/v1/soft-labels"))
              .POST(
                  HttpRequest.BodyPublishers.ofByteArray(
                      new byte[] {
                        '{', '"', 't', 'e', 'x', 't', '"', ':', '"', (byte) 0xC3, '"', '}'
                      }))
              .build();
      HttpResponse<String> r = http.send(badUtf8, HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(400);
      assertThat(r.body()).contains("UTF-8");
    }
  }

  @Test
  void fullQueueIsAnswered503WithRetryAfter() throws Exception {
    CountDownLatch gate = new CountDownLatch(1);
    GatedTeacher teacher = new GatedTeacher(gate);
    try (TeacherHttpServer s =
        new TeacherHttpServer(
            ServerConfig.builder()
                .optMaxBodyBytes(1024)
                .optMaxK(2)
                .optMaxTokens(4)
                .optMaxInFlight(1)
                .build(),
            teacher,
            new TeacherMetrics())) {
      s.start();
      CompletableFuture<HttpResponse<String>> first =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return post(s, "/v1/soft-labels", "{\"text\":\"abc\"}", null);
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
              });
      assertThat(teacher.entered.await(10, TimeUnit.SECONDS)).isTrue();
      HttpResponse<String> second = post(s, "/v1/soft-labels", "{\"text\":\"abc\"}", null);
      assertThat(second.statusCode()).isEqualTo(503);
      assertThat(second.headers().firstValue("Retry-After")).contains("1");
      gate.countDown();
      assertThat(first.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
      assertThat(post(s, "/v1/soft-labels", "{\"text\":\"abc\"}", null).statusCode())
          .isEqualTo(200);
      assertThat(s.metrics().scrape())
          .contains("distill_http_rejected_requests_total{reason=\"queue_full\"} 1.0");
    }
  }

  @Test
  void wrongMethodIs405WithAnAllowHeader() throws Exception {
    try (TeacherHttpServer s =
        new TeacherHttpServer(
            ServerConfig.loopback(),
            new GatedTeacher(new CountDownLatch(0)),
            new TeacherMetrics())) {
      s.start();
      HttpResponse<String> r = get(s, "/v1/soft-labels", null);
      assertThat(r.statusCode()).isEqualTo(405);
      assertThat(r.headers().firstValue("Allow")).contains("POST");
      HttpResponse<String> m = post(s, "/metrics", "", null);
      assertThat(m.statusCode()).isEqualTo(405);
      assertThat(m.headers().firstValue("Allow")).contains("GET");
    }
  }

  /**
   * A body far over the limit (and over the 64 KiB the JDK server drains by itself) is answered
   * 413, never by a connection reset: with and without Content-Length, many times over.
   */
  @Test
  void oversizedUploadIsAlwaysAnswered413NeverReset() throws Exception {
    try (TeacherHttpServer s = openServer(1024)) {
      s.start();
      byte[] big = new byte[2 << 20];
      java.util.Arrays.fill(big, (byte) 'a');
      for (int i = 0; i < 10; i++) {
        HttpRequest sized =
            HttpRequest.newBuilder(URI.create(s.baseUri() + "/v1/soft-labels"))
                .timeout(Duration.ofSeconds(20))
                .POST(HttpRequest.BodyPublishers.ofByteArray(big))
                .build();
        assertThat(http.send(sized, HttpResponse.BodyHandlers.ofString()).statusCode())
            .isEqualTo(413);
        HttpRequest chunked =
            HttpRequest.newBuilder(URI.create(s.baseUri() + "/v1/soft-labels"))
                .timeout(Duration.ofSeconds(20))
                .POST(
                    HttpRequest.BodyPublishers.ofInputStream(
                        () -> new java.io.ByteArrayInputStream(big)))
                .build();
        HttpResponse<String> r = http.send(chunked, HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(413);
        assertThat(r.body()).contains("over 1024 bytes");
      }
      // The same connection pool still works afterwards.
      assertThat(post(s, "/v1/soft-labels", "{\"text\":\"abc\"}", null).statusCode())
          .isEqualTo(200);
    }
  }

  /**
   * More requests at once than the worker pool plus its queue (2 + 128 here, 8 + 512 at the
   * defaults) while the teacher is stalled: every connection gets an HTTP answer, 503 with
   * Retry-After for those the server has no room for, each counted; the rest get their labels once
   * the teacher resumes.
   */
  @Test
  void aFloodLargerThanPoolPlusQueueIsAnsweredEveryRequestNeverDropped() throws Exception {
    CountDownLatch gate = new CountDownLatch(1);
    GatedTeacher teacher = new GatedTeacher(gate);
    int threads = 2;
    int room = threads + threads * 64;
    int flood = room + 170;
    ServerConfig c =
        ServerConfig.builder()
            .optMaxBodyBytes(1024)
            .optMaxK(2)
            .optMaxTokens(4)
            .optThreads(threads)
            .optTokenBudget(64)
            .optMaxWait(Duration.ofMillis(1))
            .build();
    List<java.net.Socket> sockets = new ArrayList<>();
    try (TeacherHttpServer s = new TeacherHttpServer(c, teacher, new TeacherMetrics())) {
      s.start();
      URI base = URI.create(s.baseUri());
      String body = "{\"text\":\"abc\"}";
      byte[] request =
          ("POST /v1/soft-labels HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  + "Content-Length: "
                  + body.length()
                  + "\r\nConnection: close\r\n\r\n"
                  + body)
              .getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      for (int i = 0; i < flood; i++) {
        java.net.Socket sock = new java.net.Socket(base.getHost(), base.getPort());
        sock.setSoTimeout(30_000);
        sock.getOutputStream().write(request);
        sock.getOutputStream().flush();
        sockets.add(sock);
      }
      // Those without room are answered while the teacher is still stalled.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (rejected(s, "overloaded") < flood - room && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      gate.countDown();
      int ok = 0;
      int unavailable = 0;
      for (java.net.Socket sock : sockets) {
        String head = readHead(sock);
        assertThat(head).as("every connection gets an HTTP answer").startsWith("HTTP/1.1 ");
        if (head.startsWith("HTTP/1.1 200")) {
          ok++;
        } else {
          assertThat(head).startsWith("HTTP/1.1 503").containsIgnoringCase("Retry-After: 1");
          unavailable++;
        }
      }
      assertThat(ok + unavailable).isEqualTo(flood);
      assertThat(unavailable).isGreaterThanOrEqualTo(flood - room);
      assertThat(ok).isPositive();
      assertThat(rejected(s, "overloaded")).isEqualTo(unavailable);
      assertThat(s.metrics().scrape()).doesNotContain("reason=\"dropped\"");
    } finally {
      for (java.net.Socket sock : sockets) {
        sock.close();
      }
    }
  }

  private static double rejected(TeacherHttpServer s, String reason) {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile(
                "distill_http_rejected_requests_total\\{reason=\"" + reason + "\"\\} ([0-9.E]+)")
            .matcher(s.metrics().scrape());
    return m.find() ? Double.parseDouble(m.group(1)) : 0;
  }

  /** The status line and headers of the answer on {@code sock}, or what came before it closed. */
  private static String readHead(java.net.Socket sock) throws Exception {
    java.io.InputStream in = sock.getInputStream();
    StringBuilder sb = new StringBuilder();
    int b;
    while ((b = in.read()) != -1) {
      sb.append((char) b);
      if (sb.length() >= 4 && sb.substring(sb.length() - 4).equals("\r\n\r\n")) {
        break;
      }
    }
    return sb.toString();
  }
}
