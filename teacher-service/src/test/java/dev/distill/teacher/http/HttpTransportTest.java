package dev.distill.teacher.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonParser;
import dev.distill.teacher.service.TeacherMetrics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The transport alone, with endpoints that only echo, fail or wait: routing, auth, 404/405, error
 * mapping and the drain are the transport's, whatever the endpoint does.
 */
class HttpTransportTest {
  static final String TOKEN = "transport-token-0123456789";
  final HttpClient http = HttpClient.newHttpClient();
  final TeacherMetrics metrics = new TeacherMetrics();
  final CountDownLatch gate = new CountDownLatch(1);
  final CountDownLatch entered = new CountDownLatch(1);
  HttpTransport transport;

  HttpTransport start(ServerConfig config) throws Exception {
    transport =
        new HttpTransport(
            config,
            metrics,
            List.of(
                new HttpTransport.Route.Get("/probe", true, ex -> Responses.text(ex, 200, "up\n")),
                new HttpTransport.Route.Get("/info", false, ex -> Responses.text(ex, 200, "i\n")),
                new HttpTransport.Route.Post("/echo", (ex, req) -> Responses.json(ex, 200, req)),
                new HttpTransport.Route.Post(
                    "/typed", (ex, req) -> Responses.text(ex, 200, "n=" + req.get("n").getAsInt())),
                new HttpTransport.Route.Post(
                    "/boom",
                    (ex, req) -> {
                      throw new IllegalArgumentException("a bug, not the client's");
                    }),
                new HttpTransport.Route.Post(
                    "/slow",
                    (ex, req) -> {
                      entered.countDown();
                      try {
                        gate.await(10, TimeUnit.SECONDS);
                      } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                      }
                      return Responses.text(ex, 200, "done\n");
                    })));
    transport.start();
    return transport;
  }

  @AfterEach
  void stop() {
    gate.countDown();
    if (transport != null) {
      transport.close();
    }
  }

  HttpResponse<String> send(String method, String path, String body, String token)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(transport.baseUri() + path))
            .timeout(Duration.ofSeconds(20))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void requestsAreCheckedForTokenThenPathThenMethodAndProbesNeedNone() throws Exception {
    start(ServerConfig.builder().optBearerToken(TOKEN).build());
    HttpResponse<String> noToken = send("GET", "/nowhere", null, null);
    assertThat(noToken.statusCode()).isEqualTo(401);
    assertThat(noToken.headers().firstValue("WWW-Authenticate")).contains("Bearer");
    assertThat(send("POST", "/echo", "{}", "wrong-token-0123456789").statusCode()).isEqualTo(401);
    assertThat(send("GET", "/nowhere", null, TOKEN).statusCode()).isEqualTo(404);
    HttpResponse<String> wrongMethod = send("GET", "/echo", null, TOKEN);
    assertThat(wrongMethod.statusCode()).isEqualTo(405);
    assertThat(wrongMethod.headers().firstValue("Allow")).contains("POST");
    assertThat(send("DELETE", "/info", null, TOKEN).headers().firstValue("Allow")).contains("GET");
    assertThat(send("POST", "/probe", "x", null).body()).isEqualTo("up\n");
    assertThat(send("GET", "/info", null, TOKEN).body()).isEqualTo("i\n");
    HttpResponse<String> echo = send("POST", "/echo", "{\"a\":[1,2]}", TOKEN);
    assertThat(echo.statusCode()).isEqualTo(200);
    assertThat(echo.body()).isEqualTo("{\"a\":[1,2]}");
    assertThat(metrics.scrape())
        .contains("distill_http_rejected_requests_total{reason=\"unauthorized\"} 2.0");
  }

  @Test
  void wrongJsonTypesAre400AndEndpointFailuresAre500InOurErrorBody() throws Exception {
    start(ServerConfig.loopback());
    assertThat(send("POST", "/typed", "{\"n\":7}", null).body()).isEqualTo("n=7");
    HttpResponse<String> typed = send("POST", "/typed", "{\"n\":{\"x\":1}}", null);
    assertThat(typed.statusCode()).isEqualTo(400);
    assertThat(JsonParser.parseString(typed.body()).getAsJsonObject().getAsJsonObject("error"))
        .hasToString("{\"message\":\"a request field has the wrong type\",\"code\":400}");
    HttpResponse<String> boom = send("POST", "/boom", "{}", null);
    assertThat(boom.statusCode()).isEqualTo(500);
    assertThat(boom.body()).isEqualTo("{\"error\":{\"message\":\"internal error\",\"code\":500}}");
    for (String bad : new String[] {"[1]", "{", "\"s\""}) {
      HttpResponse<String> r = send("POST", "/echo", bad, null);
      assertThat(r.statusCode()).as(bad).isEqualTo(400);
      assertThat(r.body()).as(bad).contains("\"code\":400").contains("JSON");
    }
  }

  @Test
  void aDrainWaitsForAdmittedWorkAndAnswersNewWork503WhileProbesStillAnswer() throws Exception {
    start(ServerConfig.loopback());
    CompletableFuture<HttpResponse<String>> slow =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return send("POST", "/slow", "{}", null);
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(transport.drain(Duration.ofMillis(50))).isFalse();
    HttpResponse<String> late = send("POST", "/echo", "{}", null);
    assertThat(late.statusCode()).isEqualTo(503);
    assertThat(late.headers().firstValue("Retry-After")).contains("1");
    assertThat(late.body()).contains("shutting down");
    assertThat(send("GET", "/probe", null, null).statusCode()).isEqualTo(200);
    gate.countDown();
    assertThat(slow.get(10, TimeUnit.SECONDS).body()).isEqualTo("done\n");
    assertThat(transport.drain(Duration.ofSeconds(5))).isTrue();
    assertThat(metrics.scrape())
        .contains("distill_http_rejected_requests_total{reason=\"shutting_down\"} 1.0");
  }

  @Test
  void twoRoutesForOnePathAreRefused() {
    HttpTransport.GetEndpoint ok = ex -> Responses.text(ex, 200, "");
    assertThatThrownBy(
            () ->
                new HttpTransport(
                    ServerConfig.loopback(),
                    metrics,
                    List.of(
                        new HttpTransport.Route.Get("/a", false, ok),
                        new HttpTransport.Route.Get("/a", true, ok))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("two routes for /a");
  }
}
