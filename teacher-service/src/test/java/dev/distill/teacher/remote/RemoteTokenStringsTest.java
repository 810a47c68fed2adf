package dev.distill.teacher.remote;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.sun.net.httpserver.HttpServer;
import dev.distill.models.tokenizer.HfTokenizer;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.teacher.HfFixtures;
import dev.distill.teacher.inference.LabeledSequence;
import dev.distill.teacher.inference.TeacherException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link RemoteTeacher} with GPT-2's real tokenizer against a loopback endpoint that answers as
 * vLLM does (decoded token text in {@code tokens} and {@code top_logprobs}): token strings map to
 * ids exactly, and one that maps to no id is a rejection naming it and its position.
 */
class RemoteTokenStringsTest {
  @TempDir static Path tmp;
  static HfTokenizer gpt2;
  static HttpServer endpoint;
  static final AtomicReference<String> answer = new AtomicReference<>();

  @BeforeAll
  static void start() throws Exception {
    gpt2 = HfFixtures.realGpt2(tmp.resolve("gpt2"));
    endpoint = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    endpoint.createContext(
        "/v1/completions",
        ex -> {
          ex.getRequestBody().readAllBytes();
          byte[] b = answer.get().getBytes(StandardCharsets.UTF_8);
          ex.getResponseHeaders().set("Content-Type", "application/json");
          ex.sendResponseHeaders(200, b.length);
          try (OutputStream o = ex.getResponseBody()) {
            o.write(b);
          }
        });
    endpoint.start();
  }

  @AfterAll
  static void stop() {
    endpoint.stop(0);
    gpt2.close();
  }

  static RemoteTeacher teacher() {
    return new RemoteTeacher(
        new RemoteTeacherConfig(
            URI.create("http://127.0.0.1:" + endpoint.getAddress().getPort()),
            "gpt2",
            null,
            2,
            1f,
            1f,
            64,
            1,
            Duration.ofSeconds(2),
            Duration.ofSeconds(5),
            0,
            Duration.ofMillis(10)),
        gpt2);
  }

  /** vLLM's echo answer for "Hello world" with the given top-2 of position 1. */
  static String echo(String top1, String top2) {
    return "{\"choices\":[{\"text\":\"Hello world\",\"logprobs\":{"
        + "\"tokens\":[\"Hello\",\" world\"],\"token_logprobs\":[null,-0.5],"
        + "\"top_logprobs\":[null,{"
        + top1
        + ":-0.5,"
        + top2
        + ":-1.5}]}}]}";
  }

  @Test
  void decodedTokenTextsOfAVllmAnswerMapToGpt2Ids() throws Exception {
    int[] seq = gpt2.encode("Hello world");
    assertThat(seq).containsExactly(15496, 995);
    answer.set(echo("\" world\"", "\"bytes:\\\\xe2\\\\x80\""));
    try (RemoteTeacher t = teacher()) {
      LabeledSequence l = t.label(List.of(seq)).get(0);
      SoftLabels s = l.labels();
      assertThat(s.id(0, 0)).isEqualTo(995);
      assertThat(s.id(0, 1)).isEqualTo(gpt2.tokenId("âĢ").getAsInt());
      assertThat(s.prob(0, 0)).isCloseTo((float) Math.exp(-0.5), within(1e-6f));
      assertThat(t.provenance().getTokenizerSha256().toString()).isEqualTo(gpt2.sha256());
      assertThat(t.provenance().getVocabSize()).isEqualTo(50257);
    }
  }

  @Test
  void aTokenThatMapsToNoIdIsARejectionNamingItAndItsPosition() {
    int[] seq = gpt2.encode("Hello world");
    answer.set(echo("\" world\"", "\" wqxzq\""));
    try (RemoteTeacher t = teacher()) {
      assertThatThrownBy(() -> t.label(List.of(seq)))
          .isInstanceOf(TeacherException.class)
          .hasMessageContaining("top_logprobs[1] entry 1")
          .hasMessageContaining("\" wqxzq\"")
          .satisfies(e -> assertThat(((TeacherException) e).retryable()).isFalse());
    }
  }

  @Test
  void anEchoThatTokenizedThePromptDifferentlyIsRefused() {
    int[] seq = gpt2.encode("Hello world");
    answer.set(
        echo("\" world\"", "\"!\"").replace("[\"Hello\",\" world\"]", "[\"Hello\",\" wor\"]"));
    try (RemoteTeacher t = teacher()) {
      assertThatThrownBy(() -> t.label(List.of(seq)))
          .isInstanceOf(TeacherException.class)
          .hasMessageContaining("prompt token 1");
    }
  }
}
