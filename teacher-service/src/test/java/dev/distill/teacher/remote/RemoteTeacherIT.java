package dev.distill.teacher.remote;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import com.sun.net.httpserver.HttpServer;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.schemas.avro.Rationale;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.teacher.TestTeachers;
import dev.distill.teacher.http.ServerConfig;
import dev.distill.teacher.http.TeacherHttpServer;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.LocalTeacher;
import dev.distill.teacher.inference.RationaleConfig;
import dev.distill.teacher.inference.SoftLabeler;
import dev.distill.teacher.inference.TeacherException;
import dev.distill.teacher.service.TeacherMetrics;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The remote backend against this service's own /v1/completions with a real DJL GPT behind it. */
class RemoteTeacherIT {
  static final String KEY = "remote-it-key-0123456789";
  static LocalTeacher local;
  static TeacherHttpServer server;
  static CharTokenizer tokenizer;

  @BeforeAll
  static void start() throws Exception {
    local = TestTeachers.tiny(32, 4, 2f);
    tokenizer = (CharTokenizer) local.model().tokenizer();
    server =
        new TeacherHttpServer(
            ServerConfig.builder().optBearerToken(KEY).build(), local, new TeacherMetrics());
    server.start();
  }

  @AfterAll
  static void stop() {
    server.close();
    local.close();
  }

  static RemoteTeacherConfig config(String url, String key, int k, int retries, Duration timeout) {
    return new RemoteTeacherConfig(
        URI.create(url),
        "tiny-gpt",
        key,
        k,
        2f,
        1f,
        33,
        4,
        Duration.ofSeconds(2),
        timeout,
        retries,
        Duration.ofMillis(20));
  }

  static SoftLabels exact(int[] seq, int k) {
    return new SoftLabeler(local.model(), new LabelingConfig(k, 2f, 1))
        .label(List.of(seq))
        .get(0)
        .labels();
  }

  @Test
  void fullVocabularyTopKRetemperedEqualsTheExactLabelsAtT() throws Exception {
    int v = tokenizer.vocabSize();
    try (RemoteTeacher remote =
        new RemoteTeacher(config(server.baseUri(), KEY, v, 0, Duration.ofSeconds(10)), tokenizer)) {
      int[] a = tokenizer.encode("the cat sat on the mat.");
      int[] b = tokenizer.encode("hello, world");
      var out = remote.label(List.of(a, b));
      for (int s = 0; s < 2; s++) {
        int[] seq = s == 0 ? a : b;
        SoftLabels want = exact(seq, v);
        SoftLabels got = out.get(s).labels();
        assertThat(got.positions()).isEqualTo(seq.length - 1);
        for (int p = 0; p < want.positions(); p++) {
          for (int j = 0; j < v; j++) {
            assertThat(got.id(p, j)).isEqualTo(want.id(p, j));
            assertThat(got.prob(p, j)).isCloseTo(want.prob(p, j), within(1e-4f));
          }
          assertThat(got.tail(p)).isCloseTo(0f, within(1e-4f));
        }
      }
      assertThat(remote.provenance().getRetemperatured()).isTrue();
      assertThat(remote.provenance().getTemperature()).isEqualTo(2f);
    }
  }

  @Test
  void topKRetemperedKeepsTheExactIdsAndBoundsTheProbabilitiesFromAbove() throws Exception {
    try (RemoteTeacher remote =
        new RemoteTeacher(config(server.baseUri(), KEY, 4, 0, Duration.ofSeconds(10)), tokenizer)) {
      int[] seq = tokenizer.encode("a quick brown fox jumps over.");
      SoftLabels got = remote.label(List.of(seq)).get(0).labels();
      SoftLabels want = exact(seq, 4);
      for (int p = 0; p < want.positions(); p++) {
        for (int j = 0; j < 4; j++) {
          assertThat(got.id(p, j)).isEqualTo(want.id(p, j));
          assertThat(got.prob(p, j))
              .isGreaterThanOrEqualTo(want.prob(p, j) - 1e-4f)
              .isCloseTo(want.prob(p, j), within(0.1f));
        }
      }
    }
  }

  @Test
  void transientFailuresAreRetriedAndPersistentOnesReportedAfterRetries() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    HttpClient forward = HttpClient.newHttpClient();
    HttpServer flaky = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    flaky.createContext(
        "/",
        ex -> {
          int n = calls.incrementAndGet();
          byte[] body = ex.getRequestBody().readAllBytes();
          if (n <= 2) {
            ex.sendResponseHeaders(503, -1);
            ex.close();
            return;
          }
          try {
            HttpResponse<byte[]> r =
                forward.send(
                    HttpRequest.newBuilder(URI.create(server.baseUri() + "/v1/completions"))
                        .header("Authorization", ex.getRequestHeaders().getFirst("Authorization"))
                        .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                        .build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            ex.sendResponseHeaders(r.statusCode(), r.body().length);
            try (OutputStream o = ex.getResponseBody()) {
              o.write(r.body());
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          ex.close();
        });
    flaky.start();
    String base = "http://127.0.0.1:" + flaky.getAddress().getPort();
    int[] seq = tokenizer.encode("retry me.");
    try (RemoteTeacher remote =
        new RemoteTeacher(config(base, KEY, 4, 3, Duration.ofSeconds(10)), tokenizer)) {
      SoftLabels got = remote.label(List.of(seq)).get(0).labels();
      assertThat(calls.get()).isEqualTo(3);
      assertThat(got.id(0, 0)).isEqualTo(exact(seq, 4).id(0, 0));
    } finally {
      flaky.stop(0);
    }
  }

  @Test
  void refusedKeyIsNotRetried() throws Exception {
    try (RemoteTeacher remote =
        new RemoteTeacher(
            config(server.baseUri(), "wrong-key-0123456789", 4, 3, Duration.ofSeconds(5)),
            tokenizer)) {
      assertThatThrownBy(() -> remote.label(List.of(tokenizer.encode("abc"))))
          .isInstanceOf(TeacherException.class)
          .hasMessageContaining("HTTP 401")
          .matches(e -> !((TeacherException) e).retryable());
    }
  }

  @Test
  void timeoutsAndServerErrorsFailRetryablyAfterTheRetries() throws Exception {
    HttpServer down = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    AtomicInteger calls = new AtomicInteger();
    down.createContext(
        "/",
        ex -> {
          calls.incrementAndGet();
          ex.getRequestBody().readAllBytes();
          ex.sendResponseHeaders(503, -1);
          ex.close();
        });
    down.start();
    String base = "http://127.0.0.1:" + down.getAddress().getPort();
    try (RemoteTeacher remote =
        new RemoteTeacher(config(base, null, 4, 2, Duration.ofMillis(500)), tokenizer)) {
      assertThatThrownBy(() -> remote.label(List.of(tokenizer.encode("abc"))))
          .isInstanceOf(TeacherException.class)
          .hasMessageContaining("after 3 attempts: HTTP 503")
          .matches(e -> ((TeacherException) e).retryable());
      assertThat(calls.get()).isEqualTo(3);
    } finally {
      down.stop(0);
    }
    HttpServer silent = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    silent.createContext("/", ex -> ex.getRequestBody().readAllBytes());
    silent.start();
    try (RemoteTeacher remote =
        new RemoteTeacher(
            config(
                "http://127.0.0.1:" + silent.getAddress().getPort(),
                null,
                4,
                1,
                Duration.ofMillis(300)),
            tokenizer)) {
      assertThatThrownBy(() -> remote.label(List.of(tokenizer.encode("abc"))))
          .isInstanceOf(TeacherException.class)
          .hasMessageContaining("timeout");
    } finally {
      silent.stop(0);
    }
  }

  @Test
  void rationalesFromTheRemoteEndpointCarryAnswersTheirLogprobsAndExactSoftLabels()
      throws Exception {
    int v = tokenizer.vocabSize();
    RationaleConfig cot = new RationaleConfig(3, 1f, 10, Pattern.compile("([a-z]) "), "q %s a");
    try (RemoteTeacher remote =
        new RemoteTeacher(config(server.baseUri(), KEY, v, 0, Duration.ofSeconds(10)), tokenizer)) {
      assertThat(remote.samplesRationales()).isTrue();
      List<String> prompts = List.of("the cat", "two and two");
      List<List<Rationale>> out = remote.sampleRationales(prompts, cot, new Random(3));
      assertThat(out).hasSize(2);
      int answered = 0;
      for (int q = 0; q < 2; q++) {
        assertThat(out.get(q)).hasSize(3);
        int[] start = tokenizer.encode("q " + prompts.get(q) + " a");
        for (Rationale x : out.get(q)) {
          int[] ids = x.getTokenIds().stream().mapToInt(Integer::intValue).toArray();
          int generated = ids.length - start.length;
          assertThat(generated).isBetween(1, 10);
          assertThat(Arrays.copyOf(ids, start.length)).isEqualTo(start);
          String text = tokenizer.decode(Arrays.copyOfRange(ids, start.length, ids.length));
          assertThat(x.getText().toString()).isEqualTo(text);
          Matcher m = cot.answerPattern().matcher(text);
          if (m.find()) {
            // Cut right after the token where the answer first appears.
            assertThat(m.end()).isEqualTo(text.length());
            assertThat(x.getAnswer().toString()).isEqualTo(m.group(1));
            answered++;
          } else {
            assertThat(x.getAnswer()).isNull();
            assertThat(generated).isEqualTo(10);
          }
          // The mean log-probability is the model's own (T = 1) over the sampled tokens.
          double sum = 0;
          try (NDManager nd = NDManager.newBaseManager()) {
            float[] logp =
                local.model().logits(nd, new int[][] {ids}).logSoftmax(-1).toFloatArray();
            for (int t = start.length - 1; t < ids.length - 1; t++) {
              sum += logp[t * v + ids[t + 1]];
            }
          }
          assertThat((double) x.getMeanLogprob()).isCloseTo(sum / generated, within(1e-4));
          // Soft labels at full k re-tempered to T = 2 are the exact labels of the sequence.
          SoftLabels got = SoftLabelCodec.decode(x.getSoftLabels().array());
          SoftLabels want = exact(ids, v);
          assertThat(got.positions()).isEqualTo(ids.length - 1);
          for (int p = 0; p < want.positions(); p++) {
            // The codec stores ids sorted, so compare as id -> probability (quantised in log
            // space).
            assertThat(got.top1(p)).isEqualTo(want.top1(p));
            Map<Integer, Float> w = new HashMap<>();
            for (int j = 0; j < v; j++) {
              w.put(want.id(p, j), want.prob(p, j));
            }
            for (int j = 0; j < v; j++) {
              assertThat(got.prob(p, j)).isCloseTo(w.get(got.id(p, j)), within(2e-3f));
            }
          }
        }
      }
      assertThat(answered).as("some rationales reached an answer").isPositive();
      // The same generator seed samples the same rationales.
      assertThat(remote.sampleRationales(prompts, cot, new Random(3))).isEqualTo(out);
    }
  }
}
