package dev.distill.deploy.cli;

import dev.distill.models.gpt.LanguageModel;
import dev.distill.spark.jobs.CurateConfig;
import dev.distill.spark.jobs.CurateJob;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.SoftLabeler;
import dev.distill.teacher.inference.TeacherIdentity;
import dev.distill.teacher.io.ParquetOutputSink;
import dev.distill.teacher.labeling.LabelingRun;
import dev.distill.teacher.labeling.TextPrompt;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The curated folder the {@code distill train} integration tests start from, made by the real
 * components: windows of the bundled corpus labelled by a teacher ({@link SoftLabeler} into
 * Parquet), then the real Spark {@link CurateJob} (20% validation).
 */
public final class CuratedFixture {
  private CuratedFixture() {}

  /** The first {@code chars} characters of the bundled tiny Shakespeare. */
  public static String corpus(int chars) throws IOException {
    try (InputStream in = CuratedFixture.class.getResourceAsStream("/corpus/tinyshakespeare.txt")) {
      return new String(in.readNBytes(chars), StandardCharsets.UTF_8);
    }
  }

  /**
   * Labels {@code windows} windows of {@code block + 1} tokens of {@code tokens}, one every {@code
   * stride}, with {@code teacher} at {@code lc}, and curates them under {@code tmp}.
   *
   * @return the curated folder ({@code tmp/curated})
   */
  public static Path labelAndCurate(
      Path tmp,
      LanguageModel teacher,
      String teacherId,
      int[] tokens,
      int windows,
      int stride,
      int block,
      LabelingConfig lc)
      throws IOException {
    Path teacherOut = tmp.resolve("teacher-outputs");
    List<TextPrompt> prompts = new ArrayList<>();
    for (int i = 0; i < windows; i++) {
      int start = i * stride;
      prompts.add(
          new TextPrompt(
              "it@" + start, "it/train", Arrays.copyOfRange(tokens, start, start + block + 1)));
    }
    try (ParquetOutputSink sink = new ParquetOutputSink(teacherOut.toString(), 1000)) {
      new LabelingRun(
              new SoftLabeler(teacher, lc),
              TeacherIdentity.provenance(teacherId, teacher, lc),
              "it")
          .run(prompts, sink, n -> {});
    }
    Path curated = tmp.resolve("curated");
    CurateJob.run(
        new CurateConfig(
            teacherOut.toString(),
            curated.toString(),
            tmp.resolve("curation-report.json").toString(),
            0.2,
            "local[2]"));
    return curated;
  }
}
