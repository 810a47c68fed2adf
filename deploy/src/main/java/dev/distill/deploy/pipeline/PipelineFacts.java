package dev.distill.deploy.pipeline;

import com.google.gson.annotations.SerializedName;
import dev.distill.deploy.pipeline.CharWorkload.CompressionResult;
import dev.distill.deploy.pipeline.CurateStage.CurationResult;
import dev.distill.deploy.pipeline.LabelStage.LabelResult;
import dev.distill.deploy.pipeline.StageClock.StageTime;
import dev.distill.deploy.pipeline.SubwordStage.SubwordResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What the pipeline's stages produced, as {@code pipeline.json} in the run folder: the evaluation
 * ({@code distill demo}'s last stage, or {@code distill eval} later) reads it back to write the
 * report. A workload that did not run leaves its fields null.
 *
 * @param softLabels the char workload's labelling
 * @param curation the char workload's ingest and curation
 * @param compression the char workload's compressed students, by name
 * @param losses the char workload's students' training objectives, by name
 * @param subword the subword workload
 * @param arithmetic the arithmetic workload's facts (rationales, curation, exact match)
 * @param timingsSeconds seconds by stage name
 * @param stages every stage in order with its seconds and peak RSS
 */
record PipelineFacts(
    @SerializedName("soft_labels") LabelResult softLabels,
    CurationResult curation,
    Map<String, CompressionResult> compression,
    Map<String, String> losses,
    SubwordResult subword,
    ArithmeticStage.ArithmeticResult arithmetic,
    @SerializedName("timings_seconds") Map<String, Double> timingsSeconds,
    List<StageTime> stages) {
  static final String FILE = "pipeline.json";

  /** No workload ran (a run folder without pipeline.json). */
  static final PipelineFacts NONE =
      new PipelineFacts(null, null, Map.of(), Map.of(), null, null, Map.of(), List.of());

  PipelineFacts {
    compression = compression == null ? Map.of() : compression;
    losses = losses == null ? Map.of() : losses;
    timingsSeconds = timingsSeconds == null ? Map.of() : timingsSeconds;
    stages = stages == null ? List.of() : stages;
  }

  void write(Path runDir) throws IOException {
    Files.writeString(runDir.resolve(FILE), RunReport.toJson(this));
  }

  static PipelineFacts read(Path runDir) throws IOException {
    Path p = runDir.resolve(FILE);
    if (!Files.exists(p)) {
      return NONE;
    }
    PipelineFacts f = RunReport.fromJson(Files.readString(p), PipelineFacts.class);
    return f == null ? NONE : f;
  }

  /** Payload bits per block linear weight of a char student: 32 for a dense float32 one. */
  double bitsPerWeight(String student) {
    CompressionResult c = compression.get(student);
    return c == null ? 32.0 : c.bitsPerWeight();
  }
}
