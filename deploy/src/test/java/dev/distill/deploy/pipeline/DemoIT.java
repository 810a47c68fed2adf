package dev.distill.deploy.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.distill.deploy.cli.DistillCli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code distill demo --quick} end to end with the real components: a KRaft broker in a child JVM,
 * Spark local in-process, DJL models. Checks that the report's numbers are sane.
 */
class DemoIT {

  @Test
  void quickDemoWritesASaneReport() throws Exception {
    Path runs = Path.of("target", "it-runs").toAbsolutePath();
    int code =
        DistillCli.execute(
            "demo",
            "--quick",
            "--run-id",
            "it-quick",
            "--set",
            "run.dir=" + runs,
            "--set",
            "run.cache-dir=" + runs.resolve(".cache"),
            "--gate",
            "students.kd-student.kl_teacher_student"
                + " < students.random-init-student.kl_teacher_student",
            "--gate",
            "subword.students.kd-student.kl_teacher_student"
                + " < subword.students.random-init-student.kl_teacher_student");
    assertThat(code).isZero();
    Path runDir = runs.resolve("it-quick");
    JsonObject report =
        JsonParser.parseString(Files.readString(runDir.resolve("report.json"))).getAsJsonObject();

    double teacherLoss = report.getAsJsonObject("teacher").get("val_loss").getAsDouble();
    assertThat(teacherLoss).isFinite().isGreaterThan(0.5).isLessThan(Math.log(65));

    Map<String, JsonObject> students = new HashMap<>();
    JsonArray arr = report.getAsJsonArray("students");
    for (JsonElement e : arr) {
      students.put(e.getAsJsonObject().get("name").getAsString(), e.getAsJsonObject());
    }
    assertThat(students).containsKeys("kd-student", "hard-label-student", "random-init-student");
    JsonObject kd = students.get("kd-student");
    JsonObject random = students.get("random-init-student");
    // the compressed students sit in the same table, at fewer bits per weight than the dense one
    assertThat(students).containsKeys("ternary-student", "self-compressed-student");
    assertThat(kd.get("bits_per_weight").getAsDouble()).isEqualTo(32.0);
    assertThat(students.get("ternary-student").get("bits_per_weight").getAsDouble()).isEqualTo(2.0);
    assertThat(students.get("self-compressed-student").get("bits_per_weight").getAsDouble())
        .isGreaterThan(0)
        .isLessThan(9.0);
    assertThat(students.get("ternary-student").get("bytes_on_disk").getAsLong())
        .isLessThan(kd.get("bytes_on_disk").getAsLong());
    assertThat(students.get("ternary-student").get("val_loss").getAsDouble())
        .isLessThan(random.get("val_loss").getAsDouble());
    JsonObject sc =
        report.getAsJsonObject("compression").getAsJsonObject("self-compressed-student");
    assertThat(sc.getAsJsonArray("layers")).isNotEmpty();
    assertThat(sc.getAsJsonArray("bits_per_weight_over_training")).isNotEmpty();
    assertThat(kd.get("val_loss").getAsDouble()).isFinite();
    assertThat(kd.get("kl_teacher_student").getAsDouble())
        .isGreaterThanOrEqualTo(0)
        .isLessThan(random.get("kl_teacher_student").getAsDouble());
    assertThat(kd.get("top1_agreement").getAsDouble())
        .isGreaterThan(random.get("top1_agreement").getAsDouble());
    assertThat(kd.get("params").getAsLong())
        .isLessThan(report.getAsJsonObject("teacher").get("params").getAsLong());

    JsonObject labels = report.getAsJsonObject("soft_labels");
    assertThat(labels.get("records").getAsLong()).isEqualTo(280);
    assertThat(labels.get("bytes_per_token").getAsDouble()).isBetween(20.0, 40.0);
    JsonObject curation = report.getAsJsonObject("curation");
    assertThat(curation.get("input").getAsLong()).isEqualTo(280);
    assertThat(
            curation.get("kept").getAsLong()
                + curation.get("rejected").getAsLong()
                + curation.get("duplicates").getAsLong())
        .isEqualTo(280);
    // the stages that always run (Spark, training) took time, and the stages together took no
    // longer than the whole run (each figure is rounded to 0.1 s; a cached teacher takes ~0 s)
    JsonObject timings = report.getAsJsonObject("timings_seconds");
    double stages = 0;
    for (String stage : new String[] {"teacher", "ingest", "curate", "train", "eval"}) {
      double seconds = timings.get(stage).getAsDouble();
      if (!stage.equals("eval") && !stage.equals("teacher")) {
        assertThat(seconds).as(stage).isPositive();
      }
      stages += seconds;
    }
    assertThat(timings.get("total").getAsDouble()).isGreaterThanOrEqualTo(stages - 0.3);
    // Each stage's seconds and peak RSS (issue 13): every stage that ran, in order, the eval last;
    // Spark and DJL run in this JVM, so the curate stage's peak is far above an empty JVM's.
    Map<String, JsonObject> stageRows = new java.util.LinkedHashMap<>();
    for (JsonElement e : report.getAsJsonArray("stages")) {
      JsonObject st = e.getAsJsonObject();
      stageRows.put(st.get("name").getAsString(), st);
      assertThat(st.get("seconds").getAsDouble()).isGreaterThanOrEqualTo(0);
      assertThat(st.get("peak_rss_source").getAsString()).isIn("VmHWM", "jvm-heap-peak");
    }
    assertThat(stageRows.keySet())
        .containsSubsequence("kafka", "teacher", "label", "ingest", "curate", "train")
        .contains("subword train", "arithmetic students")
        .endsWith("eval");
    assertThat(stageRows.get("curate").get("peak_rss_mb").getAsDouble()).isGreaterThan(200);
    // the two arithmetic students trained at the same time, each thread's CPU seconds recorded
    JsonObject arithStudents = stageRows.get("arithmetic students");
    assertThat(arithStudents.get("cpu_seconds").getAsDouble()).isPositive();
    assertThat(arithStudents.getAsJsonObject("cpu_seconds_by_part").keySet())
        .containsExactly("cot-kd-student", "answers-only-student");
    assertThat(stageRows.get("curate").get("seconds").getAsDouble())
        .isEqualTo(timings.get("curate").getAsDouble());
    assertThat(runDir.resolve("config.properties")).exists();
    assertThat(runDir.resolve("curated/_SUCCESS")).exists();
    assertThat(runDir.resolve("teacher-outputs/_SUCCESS")).exists();
    assertThat(runDir.resolve("models/kd-student/manifest.json")).exists();
    assertThat(report.getAsJsonArray("gates").get(0).getAsJsonObject().get("passed").getAsBoolean())
        .isTrue();

    // The arithmetic workload ran every stage: n rationales per problem, curation decided on
    // each, two students trained and evaluated beside the teacher.
    JsonObject arith = report.getAsJsonObject("arithmetic");
    assertThat(arith.getAsJsonObject("rationales").get("sampled").getAsLong()).isEqualTo(24 * 2);
    long decided = 0;
    for (var e : arith.getAsJsonObject("curation").getAsJsonObject("decisions").entrySet()) {
      decided += e.getValue().getAsLong();
    }
    assertThat(decided).isEqualTo(48);
    assertThat(arith.getAsJsonArray("models")).hasSize(3);
    for (JsonElement m : arith.getAsJsonArray("models")) {
      assertThat(m.getAsJsonObject().get("exact_match_with_rationale").getAsDouble())
          .isBetween(0.0, 1.0);
    }
    assertThat(arith.get("student_params_vs_teacher").getAsDouble()).isLessThan(0.25);

    // Per slice (task, length bucket): both tasks, every model, the shakespeare all-lengths row
    // of a student equal to its overall loss (same windows, token-weighted).
    JsonArray sliceRows = report.getAsJsonObject("slices").getAsJsonArray("rows");
    Map<String, JsonObject> allRows = new HashMap<>();
    for (JsonElement e : sliceRows) {
      JsonObject r = e.getAsJsonObject();
      assertThat(r.get("tokens").getAsLong()).isPositive();
      if (r.get("length_bucket").getAsString().equals("all")) {
        allRows.put(r.get("task").getAsString() + "/" + r.get("model").getAsString(), r);
      }
    }
    assertThat(allRows)
        .containsKeys(
            "shakespeare/teacher",
            "shakespeare/kd-student",
            "shakespeare/random-init-student",
            "arithmetic/teacher",
            "shakespeare-bpe/teacher",
            "shakespeare-bpe/kd-student",
            "arithmetic/cot-kd-student",
            "arithmetic/answers-only-student");
    assertThat(allRows.get("shakespeare/kd-student").get("loss").getAsDouble())
        .isCloseTo(kd.get("val_loss").getAsDouble(), org.assertj.core.api.Assertions.within(1e-3));
    assertThat(allRows.get("arithmetic/teacher").get("kl_teacher_student").getAsDouble())
        .isCloseTo(0.0, org.assertj.core.api.Assertions.within(1e-4));

    // The subword workload: BPE tokenizer, Llama-family teacher and students, same labelling,
    // Kafka, ingest and curation path; losses per token and per character.
    JsonObject sw = report.getAsJsonObject("subword");
    assertThat(sw.getAsJsonObject("tokenizer").get("vocab_size").getAsInt()).isEqualTo(660);
    assertThat(sw.getAsJsonObject("soft_labels").get("records").getAsLong()).isEqualTo(200);
    JsonObject swCuration = sw.getAsJsonObject("curation");
    assertThat(swCuration.get("ingested").getAsLong()).isEqualTo(200);
    assertThat(
            swCuration.get("kept").getAsLong()
                + swCuration.get("rejected").getAsLong()
                + swCuration.get("duplicates").getAsLong())
        .isEqualTo(200);
    Map<String, JsonObject> swModels = new HashMap<>();
    for (JsonElement e : sw.getAsJsonArray("students")) {
      swModels.put(e.getAsJsonObject().get("name").getAsString(), e.getAsJsonObject());
    }
    assertThat(swModels).containsKeys("kd-student", "hard-label-student", "random-init-student");
    JsonObject swTeacher = sw.getAsJsonObject("teacher");
    JsonObject swKd = swModels.get("kd-student");
    JsonObject swRandom = swModels.get("random-init-student");
    double charsPerToken = sw.getAsJsonObject("eval").get("characters_per_token").getAsDouble();
    assertThat(charsPerToken).isBetween(1.5, 4.0);
    assertThat(swTeacher.get("val_loss").getAsDouble()).isFinite().isLessThan(Math.log(660));
    assertThat(swKd.get("val_loss").getAsDouble())
        .isFinite()
        .isLessThan(swRandom.get("val_loss").getAsDouble());
    assertThat(swKd.get("val_loss_per_char").getAsDouble())
        .isCloseTo(
            swKd.get("val_loss").getAsDouble() / charsPerToken,
            org.assertj.core.api.Assertions.within(1e-3));
    assertThat(swKd.get("kl_teacher_student").getAsDouble())
        .isGreaterThanOrEqualTo(0)
        .isLessThan(swRandom.get("kl_teacher_student").getAsDouble());
    assertThat(swKd.get("top1_agreement").getAsDouble())
        .isGreaterThan(swRandom.get("top1_agreement").getAsDouble());
    assertThat(swKd.get("params").getAsLong()).isLessThan(swTeacher.get("params").getAsLong() / 2);
    assertThat(swKd.get("params").getAsLong())
        .isEqualTo(swModels.get("hard-label-student").get("params").getAsLong());
    assertThat(sw.getAsJsonObject("hf_export").get("reload_max_abs_logit_diff").getAsDouble())
        .isLessThan(1e-4);
    assertThat(report.getAsJsonArray("gates").get(1).getAsJsonObject().get("passed").getAsBoolean())
        .isTrue();
    // The Hugging Face export reloads (HfModels.load) as a Llama-family model with grouped-query
    // attention and gives the trained student's logits on held-out text.
    Path export = runDir.resolve("models/shakespeare-bpe-kd-student-hf");
    assertThat(export.resolve("config.json")).exists();
    assertThat(export.resolve("model.safetensors")).exists();
    assertThat(export.resolve("tokenizer.json")).exists();
    try (dev.distill.models.gpt.LanguageModel trained =
            dev.distill.models.checkpoint.Checkpoints.load(
                runDir.resolve("subword/models/kd-student"));
        dev.distill.models.gpt.LanguageModel reloaded =
            dev.distill.models.hf.HfModels.load(export);
        ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager()) {
      dev.distill.models.hf.HfConfig hc = (dev.distill.models.hf.HfConfig) reloaded.config();
      assertThat(hc.architecture()).isEqualTo("LlamaForCausalLM");
      assertThat(hc.nKvHead()).isLessThan(hc.nHead());
      assertThat(reloaded.tokenizer().sha256()).isEqualTo(trained.tokenizer().sha256());
      int[] ids =
          java.util.Arrays.copyOf(
              reloaded.tokenizer().encode("ROMEO:\nBut soft, what light through yonder window"),
              12);
      float[] a = trained.logits(m, new int[][] {ids}).toFloatArray();
      float[] b = reloaded.logits(m, new int[][] {ids}).toFloatArray();
      assertThat(b).hasSameSizeAs(a);
      assertThat(b).containsExactly(a, org.assertj.core.data.Offset.offset(1e-5f));
    }

    // The report opens in a real browser: every chart rendered and no script error occurred.
    Path html = runDir.resolve("report.html");
    assertThat(html).exists();
    assertThat(Files.readString(html))
        .contains("<table id=\"slices\">", "arithmetic", "subword", "val_loss_per_char");
    if (HeadlessChromium.binary() == null) {
      assertThat(System.getenv("CI")).as("CI installs chromium (.ci/run)").isNull();
      System.err.println("DemoIT: no chromium on this machine; browser check skipped");
    } else {
      String dom = HeadlessChromium.dumpDom(html, runs.resolve("chromium-profile"));
      // Five charts: loss curves, size vs quality, calibration, and for the compressed students
      // bits per weight over training and per-layer sparsity.
      assertThat(dom)
          .contains("data-status=\"ok\"")
          .contains("data-charts=\"5\"")
          .contains("id=\"chart-bits\"")
          .contains("id=\"chart-sparsity\"");
      // What a reader sees first: a 1280 x 2000 screenshot decodes, has the window's size, and
      // shows the charts' series colours (tab10 blue, red, green, purple), which a blank page, a
      // page of tables only or charts pushed below the first screen would not.
      Path png = runs.resolve("report.png");
      java.nio.file.Files.deleteIfExists(png);
      HeadlessChromium.screenshot(html, png, 1280, 2000, runs.resolve("chromium-profile"));
      java.awt.image.BufferedImage shot = javax.imageio.ImageIO.read(png.toFile());
      assertThat(shot).as("PNG decodes").isNotNull();
      assertThat(shot.getWidth()).isEqualTo(1280);
      assertThat(shot.getHeight()).isEqualTo(2000);
      Map<Integer, Integer> palette =
          HeadlessChromium.pixelsNear(shot, new int[] {0x1f77b4, 0xd62728, 0x2ca02c, 0x9467bd}, 24);
      assertThat(palette.values().stream().filter(n -> n > 50).count())
          .as("series colours on screen: %s", palette)
          .isGreaterThanOrEqualTo(3);
    }

    // distill eval re-evaluates the finished run; a failing gate exits 1.
    assertThat(
            DistillCli.execute(
                "eval", "--run-dir", runDir.toString(), "--gate", "student.val_loss < 0.01"))
        .isEqualTo(1);
    assertThat(DistillCli.execute("eval", "--run-dir", runDir.toString(), "--gate", "a <="))
        .isEqualTo(2);
  }
}
