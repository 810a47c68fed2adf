package dev.distill.teacher.http;

import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.LocalTeacher;
import dev.distill.teacher.service.TeacherMetrics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Requests/s and latency of {@code POST /v1/soft-labels} through {@link TeacherHttpServer} at
 * default settings ({@link ServerConfig#loopback()}), closed loop: C clients, each sending its next
 * request when the last is answered (HTTP/1.1, 33-character texts), after a warm-up of 16 x 20. The
 * teacher is a small random GPT (layers and width by {@code -Dlayers} / {@code -Dwidth}, default 1
 * and 32, context 32, 65 characters), so the HTTP layer's cost is visible beside the forward. Uses
 * only the server's public API, so one build of this class measures any version of the server on
 * the classpath ({@code src/test/scripts/http-ab.sh} runs two in interleaved rounds).
 *
 * <p>Usage: {@code SoftLabelsHttpBenchmark LABEL REQUESTS_PER_CLIENT C1,C2,...}; prints one line
 * {@code RESULT LABEL c=C n=N rps=... p50_ms=... p99_ms=...} per concurrency.
 */
public final class SoftLabelsHttpBenchmark {
  private SoftLabelsHttpBenchmark() {}

  public static void main(String[] args) throws Exception {
    String label = args[0];
    int perClient = Integer.parseInt(args[1]);
    int[] concurrencies = Arrays.stream(args[2].split(",")).mapToInt(Integer::parseInt).toArray();
    StringBuilder chars = new StringBuilder();
    for (char c = ' '; chars.length() < 65; c++) {
      chars.append(c);
    }
    CharTokenizer tok = CharTokenizer.fromCorpus(chars.toString());
    GptConfig shape =
        new GptConfig(
            tok.vocabSize(),
            32,
            Integer.getInteger("layers", 1),
            2,
            Integer.getInteger("width", 32),
            0f);
    ExecutorService clientPool = Executors.newFixedThreadPool(8);
    try (LocalTeacher teacher =
            new LocalTeacher(
                "bench", LanguageModel.create(shape, tok, 1), new LabelingConfig(8, 2f, 64));
        TeacherHttpServer server =
            new TeacherHttpServer(ServerConfig.loopback(), teacher, new TeacherMetrics())) {
      server.start();
      HttpClient http =
          HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).executor(clientPool).build();
      Random rng = new Random(5);
      String[] bodies = new String[256];
      for (int i = 0; i < bodies.length; i++) {
        StringBuilder t = new StringBuilder();
        for (int j = 0; j < 33; j++) {
          t.append(chars.charAt(rng.nextInt(26) + 33));
        }
        bodies[i] = "{\"text\":\"" + t + "\"}";
      }
      URI uri = URI.create(server.baseUri() + "/v1/soft-labels");
      load(http, uri, bodies, 16, 20); // warm-up
      for (int c : concurrencies) {
        long start = System.nanoTime();
        long[] latencies = load(http, uri, bodies, c, perClient);
        double seconds = (System.nanoTime() - start) / 1e9;
        Arrays.sort(latencies);
        System.out.printf(
            Locale.ROOT,
            "RESULT %s c=%d n=%d rps=%.1f p50_ms=%.2f p99_ms=%.2f%n",
            label,
            c,
            latencies.length,
            latencies.length / seconds,
            latencies[latencies.length / 2] / 1e6,
            latencies[(int) Math.ceil(latencies.length * 0.99) - 1] / 1e6);
      }
    } finally {
      clientPool.shutdownNow();
    }
  }

  /** C clients x n requests each; every answer must be 200. Latencies in ns. */
  private static long[] load(HttpClient http, URI uri, String[] bodies, int clients, int n)
      throws Exception {
    long[] latencies = new long[clients * n];
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int w = 0; w < clients; w++) {
        int client = w;
        done.add(
            pool.submit(
                () -> {
                  for (int i = 0; i < n; i++) {
                    int at = client * n + i;
                    long s = System.nanoTime();
                    HttpResponse<String> r =
                        http.send(
                            HttpRequest.newBuilder(uri)
                                .POST(
                                    HttpRequest.BodyPublishers.ofString(bodies[at % bodies.length]))
                                .build(),
                            HttpResponse.BodyHandlers.ofString());
                    if (r.statusCode() != 200) {
                      throw new IllegalStateException(r.statusCode() + " " + r.body());
                    }
                    latencies[at] = System.nanoTime() - s;
                  }
                  return null;
                }));
      }
      for (Future<?> f : done) {
        f.get();
      }
      return latencies;
    } finally {
      pool.shutdown();
    }
  }
}
