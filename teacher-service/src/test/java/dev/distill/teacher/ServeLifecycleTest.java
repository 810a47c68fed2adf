package dev.distill.teacher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.distill.teacher.http.GatedTeacher;
import dev.distill.teacher.http.ServerConfig;
import dev.distill.teacher.http.TeacherHttpServer;
import dev.distill.teacher.service.TeacherMetrics;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@code serve}'s lifecycle: start, stop on request or when the loop ends, graceful drain. */
class ServeLifecycleTest {
  final ByteArrayOutputStream printed = new ByteArrayOutputStream();
  final PrintStream out = new PrintStream(printed, true, StandardCharsets.UTF_8);
  final HttpClient http = HttpClient.newHttpClient();

  String printed() {
    return printed.toString(StandardCharsets.UTF_8);
  }

  /** A loop that runs until asked to stop, or that ignores the request when told to. */
  static final class WaitingLoop implements ServeLifecycle.Loop {
    final CountDownLatch stop = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    final boolean ignoresStop;

    WaitingLoop(boolean ignoresStop) {
      this.ignoresStop = ignoresStop;
    }

    @Override
    public void run() {
      try {
        (ignoresStop ? release : stop).await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    @Override
    public void requestStop() {
      stop.countDown();
    }
  }

  CompletableFuture<Integer> awaitStopAsync(ServeLifecycle life) {
    return CompletableFuture.supplyAsync(
        () -> {
          try {
            return life.awaitStop();
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
        });
  }

  static HttpRequest softLabelsRequest(TeacherHttpServer s) {
    return HttpRequest.newBuilder(URI.create(s.baseUri() + "/v1/soft-labels"))
        .timeout(Duration.ofSeconds(20))
        .POST(HttpRequest.BodyPublishers.ofString("{\"text\":\"abc\"}"))
        .build();
  }

  HttpResponse<String> softLabels(TeacherHttpServer s) throws Exception {
    return http.send(softLabelsRequest(s), HttpResponse.BodyHandlers.ofString());
  }

  int readyz(TeacherHttpServer s) throws Exception {
    return http.send(
            HttpRequest.newBuilder(URI.create(s.baseUri() + "/readyz")).build(),
            HttpResponse.BodyHandlers.discarding())
        .statusCode();
  }

  @Test
  void aStopLetsTheAdmittedRequestFinishAnswersNewWork503AndPrintsStopped() throws Exception {
    CountDownLatch gate = new CountDownLatch(1);
    GatedTeacher teacher = new GatedTeacher(gate);
    TeacherHttpServer server =
        new TeacherHttpServer(ServerConfig.loopback(), teacher, new TeacherMetrics());
    WaitingLoop loop = new WaitingLoop(false);
    ServeLifecycle life = new ServeLifecycle(server, loop, Duration.ofSeconds(10), out);
    life.start();
    assertThat(printed()).startsWith("http " + server.baseUri()).contains("ready");
    CompletableFuture<HttpResponse<String>> inFlight =
        http.sendAsync(softLabelsRequest(server), HttpResponse.BodyHandlers.ofString());
    assertThat(teacher.entered.await(10, TimeUnit.SECONDS)).isTrue();
    CompletableFuture<Integer> exit = awaitStopAsync(life);
    life.requestStop();
    assertThat(loop.stop.getCount()).isZero();
    // The server drains (up to 2 s): once /readyz says so, new teacher work is turned away while
    // the admitted request runs on.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (readyz(server) != 503 && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    int late = softLabels(server).statusCode();
    assertThat(late).isEqualTo(503);
    assertThat(printed()).doesNotContain("stopped");
    gate.countDown();
    assertThat(inFlight.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
    assertThat(exit.get(10, TimeUnit.SECONDS)).isZero();
    assertThat(printed()).endsWith("stopped" + System.lineSeparator());
  }

  @Test
  void aLoopThatEndsByItselfStopsTheServiceCleanly() throws Exception {
    ServeLifecycle life =
        new ServeLifecycle(null, new WaitingLoop(false), Duration.ofSeconds(5), out);
    life.start();
    life.requestStop();
    assertThat(life.awaitStop()).isZero();
    assertThat(printed())
        .isEqualTo("ready" + System.lineSeparator() + "stopped" + System.lineSeparator());
  }

  @Test
  void aFailedLoopExits1NamingTheFailure() throws Exception {
    ServeLifecycle.Loop failing =
        ServeLifecycle.Loop.of(
            () -> {
              throw new IllegalStateException("broker unreachable");
            },
            () -> {});
    ServeLifecycle life = new ServeLifecycle(null, failing, Duration.ofSeconds(5), out);
    life.start();
    assertThat(life.awaitStop()).isEqualTo(1);
    assertThat(printed())
        .contains("the service loop failed: broker unreachable")
        .doesNotContain("stopped");
  }

  @Test
  void aLoopThatDoesNotStopInTimeExits1() throws Exception {
    WaitingLoop stuck = new WaitingLoop(true);
    ServeLifecycle life = new ServeLifecycle(null, stuck, Duration.ofMillis(200), out);
    life.start();
    life.requestStop();
    try {
      assertThat(life.awaitStop()).isEqualTo(1);
      assertThat(printed()).contains("did not stop within 0 s").doesNotContain("stopped");
    } finally {
      stuck.release.countDown();
    }
  }

  @Test
  void theShutdownHookHoldsTheJvmUntilEverythingIsClosed() throws Exception {
    ServeLifecycle life =
        new ServeLifecycle(null, new WaitingLoop(false), Duration.ofSeconds(10), out);
    life.start();
    Thread hook = life.shutdownHook();
    hook.start();
    assertThat(life.awaitStop()).isZero();
    hook.join(200);
    assertThat(hook.isAlive()).as("waits for finished()").isTrue();
    life.finished();
    hook.join(5_000);
    assertThat(hook.isAlive()).isFalse();
  }

  @Test
  void nothingToServeIsRefused() {
    assertThatThrownBy(() -> new ServeLifecycle(null, null, Duration.ofSeconds(1), out))
        .hasMessageContaining("nothing to serve");
  }
}
