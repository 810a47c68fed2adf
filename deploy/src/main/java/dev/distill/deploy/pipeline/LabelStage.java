package dev.distill.deploy.pipeline;

import com.google.gson.annotations.SerializedName;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.schemas.avro.Provenance;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.SoftLabeler;
import dev.distill.teacher.inference.TeacherIdentity;
import dev.distill.teacher.io.ParquetOutputSink;
import dev.distill.teacher.kafka.KafkaOutputSink;
import dev.distill.teacher.labeling.LabelingRun;
import dev.distill.teacher.labeling.TeeSink;
import dev.distill.teacher.labeling.TextPrompt;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Teacher-service labelling, one job: the teacher's top-k soft labels of text prompts, written in
 * Kafka transactions to a topic and, beside them, to Parquet. Shared by both Shakespeare workloads.
 *
 * @param name the stage's name on progress lines, e.g. {@code teacher-service subword}
 */
record LabelStage(DemoConfig config, String name, PrintStream out) {
  /**
   * report.json's {@code soft_labels}.
   *
   * @param bytesPerToken soft-label payload bytes per labelled token, rounded to 0.01
   */
  record LabelResult(
      long records,
      long tokens,
      @SerializedName("bytes_per_token") double bytesPerToken,
      @SerializedName("top_k") int topK,
      float temperature,
      String topic,
      String codec) {}

  /**
   * Labels {@code prompts} with {@code teacher} (loaded from {@code teacherDir}, whose manifest
   * names it) into {@code topic} (transactional id {@code transactionalId}) and {@code outputs}.
   */
  LabelResult run(
      LanguageModel teacher,
      Path teacherDir,
      List<TextPrompt> prompts,
      String bootstrap,
      String topic,
      String transactionalId,
      Path outputs)
      throws IOException {
    LabelingConfig lc =
        new LabelingConfig(config.topK(), config.temperature(), config.labelBatch());
    Provenance provenance =
        TeacherIdentity.provenance(TeacherIdentity.teacherIdOf(teacherDir), teacher, lc);
    StageProgress progress = new StageProgress(out, name);
    LabelingRun.Summary summary;
    try (KafkaOutputSink kafka = new KafkaOutputSink(bootstrap, topic, transactionalId, Map.of());
        ParquetOutputSink parquet = new ParquetOutputSink(outputs.toString(), 2000);
        TeeSink sink = new TeeSink(List.of(kafka, parquet))) {
      summary =
          new LabelingRun(new SoftLabeler(teacher, lc), provenance, config.runId())
              .run(
                  prompts, sink, done -> progress.update(done, prompts.size(), "prompts labelled"));
    }
    out.printf(
        Locale.ROOT,
        "[%s] %d records, %d tokens, %.1f bytes/token (top-%d at T=%.1f) -> Kafka %s and %s%n",
        name,
        summary.records(),
        summary.tokens(),
        summary.bytesPerToken(),
        config.topK(),
        config.temperature(),
        topic,
        outputs);
    return new LabelResult(
        summary.records(),
        summary.tokens(),
        Math.round(summary.bytesPerToken() * 100) / 100.0,
        config.topK(),
        config.temperature(),
        topic,
        String.valueOf(provenance.getCodec()));
  }
}
