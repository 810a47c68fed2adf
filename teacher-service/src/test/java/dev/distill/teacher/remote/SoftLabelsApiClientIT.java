package dev.distill.teacher.remote;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.teacher.http.TeacherHttpServer;
import dev.distill.teacher.http.TestServers;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.LocalTeacher;
import dev.distill.teacher.inference.SoftLabeler;
import dev.distill.teacher.inference.TeacherException;
import dev.distill.teacher.service.TeacherMetrics;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link RemoteTeacher#softLabelsApi}: token ids to a real {@link TeacherHttpServer} over loopback,
 * the labels back equal to the in-process {@link SoftLabeler}'s; another tokenizer or temperature
 * is refused.
 */
class SoftLabelsApiClientIT {
  static final String TOKEN = "it-token-abcdefghijklmnop";
  static final float T = 2f;
  static final int K = 4;
  static final CharTokenizer TOK = CharTokenizer.fromCorpus("abcdefghijklmnopqrstuvwxyz ,.");
  static LocalTeacher teacher;
  static TeacherHttpServer server;

  @BeforeAll
  static void start() throws Exception {
    LanguageModel lm =
        LanguageModel.create(new GptConfig(TOK.vocabSize(), 32, 2, 2, 32, 0f), TOK, 7);
    teacher = new LocalTeacher("it-gpt", lm, new LabelingConfig(K, T, 16));
    server = new TeacherHttpServer(TestServers.config(TOKEN), teacher, new TeacherMetrics());
    server.start();
  }

  @AfterAll
  static void stop() {
    server.close();
    teacher.close();
  }

  static RemoteTeacherConfig config(int k, float t) {
    return new RemoteTeacherConfig(
        URI.create(server.baseUri().toString()),
        "distill-teacher",
        TOKEN,
        k,
        t,
        t,
        33,
        4,
        Duration.ofSeconds(2),
        Duration.ofSeconds(30),
        2,
        Duration.ofMillis(20));
  }

  @Test
  void labelsOverHttpEqualTheInProcessLabeller() throws Exception {
    List<int[]> seqs =
        List.of(TOK.encode("the quick brown fox, jumps."), TOK.encode("over the lazy dog"));
    try (RemoteTeacher remote = RemoteTeacher.softLabelsApi(config(3, T), TOK)) {
      List<SoftLabels> got = remote.label(seqs).stream().map(l -> l.labels()).toList();
      SoftLabeler local = new SoftLabeler(teacher.model(), new LabelingConfig(K, T, 1));
      for (int i = 0; i < seqs.size(); i++) {
        SoftLabels want = local.label(List.of(seqs.get(i))).get(0).labels();
        SoftLabels l = got.get(i);
        assertThat(l.positions()).isEqualTo(seqs.get(i).length - 1);
        assertThat(l.k()).isEqualTo(3);
        for (int p = 0; p < l.positions(); p++) {
          double dropped = want.prob(p, 3);
          for (int j = 0; j < 3; j++) {
            assertThat(l.id(p, j)).isEqualTo(want.id(p, j));
            assertThat(l.prob(p, j)).isCloseTo(want.prob(p, j), within(1e-6f));
          }
          // asking for k = 3 of the teacher's 4 moves the fourth into the tail
          assertThat((double) l.tail(p)).isCloseTo(want.tail(p) + dropped, within(1e-6));
        }
      }
    }
  }

  @Test
  void refusesATeacherWithAnotherTokenizer() {
    CharTokenizer other = CharTokenizer.fromCorpus("abcdefghijklmnopqrstuvwxyz ,.!");
    try (RemoteTeacher remote = RemoteTeacher.softLabelsApi(config(K, T), other)) {
      assertThatThrownBy(() -> remote.label(List.of(other.encode("abc def"))))
          .isInstanceOf(TeacherException.class)
          .hasMessageContaining("differs from the teacher's")
          .hasMessageContaining(TOK.sha256());
    }
  }

  @Test
  void refusesATeacherAtAnotherTemperature() {
    try (RemoteTeacher remote = RemoteTeacher.softLabelsApi(config(K, 1f), TOK)) {
      assertThatThrownBy(() -> remote.label(List.of(TOK.encode("abc def"))))
          .isInstanceOf(TeacherException.class)
          .hasMessageContaining("T=1.0");
    }
  }
}
