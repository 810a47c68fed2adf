package dev.distill.deploy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.hf.HfConfig;
import dev.distill.models.hf.HfModels;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.teacher.inference.LabelingConfig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code distill train} with Hugging Face students on real components: soft labels from the tiny
 * Llama fixture teacher (a real HF folder: config.json, bf16 shards, byte-level BPE tokenizer),
 * curated by the real CurateJob, then a smaller Llama student from {@code --student-config} and the
 * teacher's own weights from {@code --student hf:FOLDER}, each exported as a Hugging Face folder
 * that loads back.
 */
class HfStudentTrainIT {
  static final int BLOCK = 32;
  static final Path TEACHER = Path.of("../models/src/test/resources/hf/llama").toAbsolutePath();

  @TempDir static Path tmp;
  static Path curated;

  @BeforeAll
  static void labelAndCurate() throws IOException {
    try (LanguageModel teacher = HfModels.load(TEACHER)) {
      int[] tokens = teacher.tokenizer().encode(CuratedFixture.corpus(30_000));
      curated =
          CuratedFixture.labelAndCurate(
              tmp,
              teacher,
              "llama-fixture",
              tokens,
              60,
              100,
              BLOCK,
              new LabelingConfig(4, 2.0f, 16));
    }
  }

  static int train(String... args) {
    List<String> all = new ArrayList<>(List.of("train", "--curated", curated.toString()));
    all.addAll(List.of(args));
    all.addAll(
        List.of(
            "--set",
            "student.steps=6",
            "--set",
            "student.batch=4",
            "--set",
            "model.block-size=" + BLOCK,
            "--set",
            "train.checkpoint-every=3"));
    return DistillCli.execute(all.toArray(String[]::new));
  }

  @Test
  void aSmallerLlamaStudentFromAConfigTrainsAndExportsAsAHuggingFaceFolder() throws IOException {
    HfConfig small =
        HfConfig.parse(Files.readString(TEACHER.resolve("config.json"))).resized(1, 32, 2, 1, 64);
    Path config = tmp.resolve("student-config.json");
    Files.writeString(config, small.toJson());
    Path export = tmp.resolve("student-hf");
    int code =
        train(
            "--student-config", config.toString(),
            "--tokenizer", TEACHER.toString(),
            "--output", tmp.resolve("student").toString(),
            "--export-hf", export.toString());
    assertThat(code).isZero();
    try (LanguageModel back = HfModels.load(export);
        LanguageModel teacher = HfModels.load(TEACHER);
        NDManager m = NDManager.newBaseManager("PyTorch")) {
      assertThat(back.tokenizer().sha256()).isEqualTo(teacher.tokenizer().sha256());
      assertThat(back.config().parameterCount()).isLessThan(teacher.config().parameterCount() / 2);
      float[] logits = back.logits(m, new int[][] {{1, 2, 3, 4}}).toFloatArray();
      for (float f : logits) {
        assertThat(Float.isFinite(f)).isTrue();
      }
    }
  }

  @Test
  void aPretrainedStudentStartsFromTheFoldersWeights() throws IOException {
    Path export = tmp.resolve("pretrained-hf");
    int code =
        train(
            "--student",
            "hf:" + TEACHER,
            "--output",
            tmp.resolve("pretrained").toString(),
            "--export-hf",
            export.toString(),
            // a tiny step: the trained weights stay next to the pretrained ones (a random start
            // would be far from them), yet they moved
            "--set",
            "student.lr=1e-6");
    assertThat(code).isZero();
    try (LanguageModel back = HfModels.load(export);
        LanguageModel teacher = HfModels.load(TEACHER);
        NDManager m = NDManager.newBaseManager("PyTorch")) {
      assertThat(back.config().parameterCount()).isEqualTo(teacher.config().parameterCount());
      // six tiny steps moved the weights, but not far from where they started
      float[] a = back.logits(m, new int[][] {{5, 6, 7, 8}}).toFloatArray();
      float[] b = teacher.logits(m, new int[][] {{5, 6, 7, 8}}).toFloatArray();
      double diff = 0;
      for (int i = 0; i < a.length; i++) {
        diff = Math.max(diff, Math.abs(a[i] - b[i]));
      }
      assertThat(diff).isGreaterThan(0).isLessThan(0.05);
    }
  }

  @Test
  void aStudentWithAnotherTokenizerIsRefusedNamingBoth() throws IOException {
    Path charTok = tmp.resolve("char-tokenizer.json");
    CharTokenizer.fromCorpus("abc").save(charTok);
    PrintStream err = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    int code;
    try {
      code =
          train(
              "--student", "hf:" + TEACHER,
              "--tokenizer", charTok.toString(),
              "--output", tmp.resolve("refused").toString());
    } finally {
      System.setErr(err);
    }
    assertThat(code).isNotZero();
    String message = captured.toString(StandardCharsets.UTF_8);
    assertThat(message).contains("char-3-").contains("hf-660-");
  }

  @Test
  void evalComparesAnyModelsOnAUsersText() throws IOException {
    Path heldOut = tmp.resolve("held-out.txt");
    try (InputStream in =
        HfStudentTrainIT.class.getResourceAsStream("/corpus/tinyshakespeare.txt")) {
      in.skipNBytes(500_000);
      Files.write(heldOut, in.readNBytes(6_000));
    }
    Path out = tmp.resolve("eval");
    Path gpt2 = TEACHER.resolveSibling("gpt2");
    int code =
        eval(
            heldOut,
            "--student",
            "hf:" + TEACHER,
            "--student",
            "hf:" + gpt2,
            "--output",
            out.toString(),
            "--gate",
            "student.kl <= 0.000001",
            "--gate",
            "student.top1_agreement >= 1");
    assertThat(code).isZero();
    JsonObject report =
        JsonParser.parseString(Files.readString(out.resolve("report.json"))).getAsJsonObject();
    JsonArray models = report.getAsJsonArray("models");
    assertThat(models).hasSize(3);
    JsonObject other = models.get(2).getAsJsonObject();
    assertThat(other.get("name").getAsString()).isEqualTo("student2");
    // a different random model disagrees with the teacher
    assertThat(other.get("kl_teacher_student").getAsDouble()).isGreaterThan(0.01);
    assertThat(other.get("val_loss_per_char").getAsDouble())
        .isLessThan(other.get("val_loss").getAsDouble());
    int failing = eval(heldOut, "--student", "hf:" + gpt2, "--gate", "student.kl <= 0.000001");
    assertThat(failing).isEqualTo(1);
  }

  /** {@code distill eval} against the Llama fixture teacher on {@code text}, 32-token blocks. */
  private static int eval(Path text, String... more) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "eval",
                "--teacher",
                "hf:" + TEACHER,
                "--text",
                text.toString(),
                "--block-size",
                "32"));
    args.addAll(List.of(more));
    return DistillCli.execute(args.toArray(String[]::new));
  }
}
