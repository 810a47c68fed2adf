package dev.distill.deploy.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.hf.HfConfig;
import dev.distill.models.hf.HfModels;
import dev.distill.models.hf.ModelSources;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.teacher.http.ServerConfig;
import dev.distill.teacher.http.TeacherHttpServer;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.LocalTeacher;
import dev.distill.teacher.service.TeacherMetrics;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * On-policy distillation through {@code distill train} on real components: soft labels of the tiny
 * Llama fixture teacher (top-4 at T = 2) curated by the real CurateJob; a smaller Llama student
 * trained at lambda = 0.5 with the teacher in process ({@code --teacher-checkpoint}) and over real
 * loopback HTTP from a {@link TeacherHttpServer} serving the same teacher ({@code --teacher-url}).
 */
class OnPolicyTrainIT {
  static final int BLOCK = 32;
  static final int K = 4;
  static final float T = 2f;
  static final String TOKEN = "on-policy-it-token-0123456789";
  static final Path TEACHER = Path.of("../models/src/test/resources/hf/llama").toAbsolutePath();

  @TempDir static Path tmp;
  static Path curated;
  static Path studentConfig;
  static Path tokenFile;

  @BeforeAll
  static void labelAndCurate() throws IOException {
    try (LanguageModel teacher = HfModels.load(TEACHER)) {
      int[] tokens = teacher.tokenizer().encode(CuratedFixture.corpus(20_000));
      curated =
          CuratedFixture.labelAndCurate(
              tmp, teacher, "llama-fixture", tokens, 40, 100, BLOCK, new LabelingConfig(K, T, 16));
    }
    HfConfig small =
        HfConfig.parse(Files.readString(TEACHER.resolve("config.json"))).resized(1, 32, 2, 1, 64);
    studentConfig = tmp.resolve("student-config.json");
    Files.writeString(studentConfig, small.toJson());
    tokenFile = tmp.resolve("teacher-token");
    Files.writeString(tokenFile, TOKEN);
  }

  static int train(String output, String... args) {
    List<String> all =
        new ArrayList<>(
            List.of(
                "train",
                "--curated",
                curated.toString(),
                "--student-config",
                studentConfig.toString(),
                "--tokenizer",
                TEACHER.toString(),
                "--output",
                tmp.resolve(output).toString()));
    all.addAll(List.of(args));
    all.addAll(
        List.of(
            "--set", "student.steps=6",
            "--set", "student.batch=4",
            "--set", "model.block-size=" + BLOCK,
            "--set", "train.checkpoint-every=3",
            "--set", "train.on-policy-fraction=0.5",
            "--set", "train.on-policy-max-tokens=8"));
    return DistillCli.execute(all.toArray(String[]::new));
  }

  static Properties summary(String output) throws IOException {
    Properties p = new Properties();
    p.load(new StringReader(Files.readString(tmp.resolve(output + ".loss.properties"))));
    return p;
  }

  static void assertOnPolicyRan(String output, String teacher) throws IOException {
    Properties p = summary(output);
    assertThat(p.getProperty("on-policy.teacher")).startsWith(teacher);
    long batches = Long.parseLong(p.getProperty("on-policy.batches"));
    assertThat(batches).as("on-policy batches of 6 at lambda 0.5").isBetween(1L, 5L);
    // 4 rows x 8 generated tokens per on-policy batch, each scored by the teacher
    assertThat(Long.parseLong(p.getProperty("on-policy.teacher-tokens"))).isEqualTo(batches * 32);
    assertThat(Double.parseDouble(p.getProperty("on-policy.teacher-tokens-per-second")))
        .isPositive();
    assertThat(Double.parseDouble(p.getProperty("on-policy.teacher-wait-share")))
        .isGreaterThan(0)
        .isLessThan(1);
    assertThat(Double.parseDouble(p.getProperty("final.val-loss"))).isFinite();
    assertThat(p.getProperty("onPolicy.divergence")).isEqualTo("jsd:0.5");
    String metrics = Files.readString(tmp.resolve(output + ".metrics.jsonl"));
    assertThat(metrics).contains("\"event\":\"on_policy\"").contains("\"teacher_wait_share\":");
  }

  @Test
  void trainsOnPolicyWithTheTeacherInProcess() throws IOException {
    assertThat(train("in-process", "--teacher-checkpoint", "hf:" + TEACHER)).isZero();
    assertOnPolicyRan("in-process", "in-process teacher hf:");
  }

  @Test
  void trainsOnPolicyWithTheTeacherServiceOverHttp() throws Exception {
    LanguageModel lm = HfModels.load(TEACHER);
    try (LocalTeacher teacher =
            new LocalTeacher("llama-fixture", lm, new LabelingConfig(K, T, 16));
        TeacherHttpServer server =
            new TeacherHttpServer(
                ServerConfig.builder()
                    .optBearerToken(TOKEN)
                    .optMaxK(16)
                    .optThreads(4)
                    .optMaxWait(Duration.ofMillis(20))
                    .build(),
                teacher,
                new TeacherMetrics())) {
      server.start();
      int code =
          train(
              "over-http",
              "--teacher-url",
              server.baseUri().toString(),
              "--set",
              "teacher.api-token.file=" + tokenFile);
      assertThat(code).isZero();
    }
    assertOnPolicyRan("over-http", "HTTP teacher http://127.0.0.1:");
  }

  @Test
  void aTeacherWithAnotherTokenizerIsRefusedNamingBoth() throws IOException {
    // a char-level GPT checkpoint: every fixture under models' hf/ shares the BPE tokenizer
    CharTokenizer chars = CharTokenizer.fromCorpus("abcdefghijklmnopqrstuvwxyz ,.");
    Path other = tmp.resolve("char-teacher");
    try (LanguageModel lm =
        LanguageModel.create(new GptConfig(chars.vocabSize(), BLOCK, 1, 2, 32, 0f), chars, 1)) {
      Checkpoints.save(lm, other, Map.of());
    }
    PrintStream err = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    int code;
    try {
      code = train("refused", "--teacher-checkpoint", other.toString());
    } finally {
      System.setErr(err);
    }
    assertThat(code).isNotZero();
    assertThat(captured.toString(StandardCharsets.UTF_8))
        .contains("differs from the teacher's")
        .contains(chars.id());
  }

  @Test
  void aRunStoppedAfterACheckpointResumesToTheUninterruptedRunsParameters() throws IOException {
    String teacher = "hf:" + TEACHER;
    assertThat(train("straight", "--teacher-checkpoint", teacher)).isZero();
    assertThat(train("resumed", "--teacher-checkpoint", teacher, "--stop-after", "4")).isZero();
    assertThat(Files.exists(tmp.resolve("resumed"))).isFalse();
    assertThat(train("resumed", "--teacher-checkpoint", teacher, "--resume")).isZero();
    // the step-3 checkpoint holds the on-policy RNG: steps 4-6 draw and sample as the
    // uninterrupted run did
    assertThat(summary("resumed").getProperty("resumed-at.step")).isEqualTo("3");
    try (LanguageModel a = ModelSources.open(tmp.resolve("straight").toString());
        LanguageModel b = ModelSources.open(tmp.resolve("resumed").toString())) {
      var pa = a.block().getParameters();
      var pb = b.block().getParameters();
      for (int i = 0; i < pa.size(); i++) {
        float[] x = pa.get(i).getValue().getArray().toFloatArray();
        float[] y = pb.get(i).getValue().getArray().toFloatArray();
        for (int j = 0; j < x.length; j++) {
          assertThat(y[j]).as(pa.get(i).getKey()).isCloseTo(x[j], within(1e-6f));
        }
      }
    }
  }

  @Test
  void aPromptEndAndAStopFromTheConfigShapeTheSamplesAndRowsWithoutItAreCounted()
      throws IOException {
    // config text "\\n" is a newline: prompts end at a row's first newline token, samples at the
    // next one they write (at most 8 tokens)
    int code =
        train(
            "prompt-end",
            "--teacher-checkpoint",
            "hf:" + TEACHER,
            "--set",
            "train.on-policy-prompt-end=\\n",
            "--set",
            "train.on-policy-stop=\\n");
    assertThat(code).isZero();
    Properties p = summary("prompt-end");
    // recorded escaped ("\\n"), which the properties file format reads back as a newline
    assertThat(p.getProperty("onPolicy.promptEnd")).isEqualTo("\n");
    assertThat(p.getProperty("onPolicy.stop")).isEqualTo("\n");
    long batches = Long.parseLong(p.getProperty("on-policy.batches"));
    long without = Long.parseLong(p.getProperty("on-policy.rows-without-prompt-end"));
    long tokens = Long.parseLong(p.getProperty("on-policy.teacher-tokens"));
    // every on-policy draw of 4 rows either samples 1 to 8 tokens per kept row or is left out
    assertThat(batches).isBetween(0L, 5L);
    assertThat(without).isBetween(0L, 4 * 5L);
    assertThat(tokens).isBetween(batches, batches * 4 * 8);
    assertThat(batches + without).as("at lambda 0.5, some of 6 draws were on-policy").isPositive();
    assertThat(Double.parseDouble(p.getProperty("final.val-loss"))).isFinite();
  }

  @Test
  void onPolicyWithoutATeacherIsAUsageError() {
    assertThat(train("no-teacher")).isEqualTo(2);
  }
}
