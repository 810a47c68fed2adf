package dev.distill.deploy.pipeline;

import com.google.gson.annotations.SerializedName;
import dev.distill.deploy.pipeline.CurateStage.CurationResult;
import dev.distill.deploy.pipeline.LabelStage.LabelResult;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.gpt.PackedExport;
import dev.distill.models.nn.LinearMode;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.spark.jobs.IngestResult;
import dev.distill.teacher.labeling.TextPrompt;
import dev.distill.trainer.compression.SelfCompression;
import dev.distill.trainer.io.CuratedDataset;
import dev.distill.trainer.loss.DistillationLoss;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainResult;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The char-level workload (the seed paper's setting), as stages: a GPT teacher (cached), soft
 * labels through Kafka and Parquet, Spark ingest and curation, then the KD, hard-label and
 * compressed students with their curves.
 */
final class CharWorkload {
  /**
   * Weight of the self-compression size term (bits per weight) against the KD loss in nats: at the
   * initial 8 bits it adds 0.16 nats, a tenth of a trained student's loss.
   */
  static final float SELF_COMPRESSION_GAMMA = 0.02f;

  /**
   * One block linear layer of a compressed student (report.json's {@code compression.*.layers}).
   */
  record LayerFacts(
      String layer,
      @SerializedName("bits_per_weight") double bitsPerWeight,
      double sparsity,
      @SerializedName("removed_channels") long removedChannels) {}

  /**
   * A compressed student's export (report.json's {@code compression.NAME}).
   *
   * @param bitsOverTraining (step, bits per weight) pairs, about 100, for a self-compressing one
   */
  record CompressionResult(
      String mode,
      @SerializedName("bits_per_weight") double bitsPerWeight,
      @SerializedName("bytes_on_disk") long bytesOnDisk,
      List<LayerFacts> layers,
      @SerializedName("bits_per_weight_over_training") List<List<Double>> bitsOverTraining) {}

  /** What the workload produced, for pipeline.json. */
  record CharResult(
      LabelResult softLabels,
      CurationResult curation,
      Map<String, CompressionResult> compression,
      Map<String, String> losses) {
    /** The workload did not run. */
    static final CharResult NONE = new CharResult(null, null, Map.of(), Map.of());
  }

  private final DemoConfig config;
  private final StageClock clock;
  private final PrintStream out;

  CharWorkload(DemoConfig config, StageClock clock, PrintStream out) {
    this.config = config;
    this.clock = clock;
    this.out = out;
  }

  CharResult run(
      Path runDir, String bootstrap, CharTokenizer tokenizer, LocalPipeline.Splits splits)
      throws IOException {
    GptConfig teacherConfig =
        gpt(tokenizer, config.teacherLayers(), config.teacherHeads(), config.teacherEmbd());
    Path teacherDir =
        clock.time("teacher", () -> teacherCheckpoint(teacherConfig, tokenizer, splits));
    try (LanguageModel teacher = Checkpoints.load(teacherDir)) {
      LocalPipeline.copyRecursively(teacherDir, runDir.resolve("models/teacher"));
      List<TextPrompt> prompts = new ArrayList<>();
      prompts.addAll(windows("shakespeare/train", splits.train(), config.trainWindows()));
      prompts.addAll(windows("shakespeare/val", splits.valLabelled(), config.valWindows()));
      LabelResult labels =
          clock.time(
              "label",
              () ->
                  new LabelStage(config, "teacher-service", out)
                      .run(
                          teacher,
                          teacherDir,
                          prompts,
                          bootstrap,
                          config.topic(),
                          "distill-demo-" + config.runId(),
                          runDir.resolve("teacher-outputs")));
      CurateStage spark = new CurateStage(config, runDir, "spark", out);
      IngestResult ingest = clock.time("ingest", () -> spark.ingest(bootstrap, config.topic()));
      CurationResult curation = clock.time("curate", () -> spark.curate(ingest));
      return clock.time("train", r -> trainStudents(runDir, tokenizer, labels, curation, r));
    }
  }

  private CharResult trainStudents(
      Path runDir,
      CharTokenizer tokenizer,
      LabelResult labels,
      CurationResult curation,
      StageClock.Running running)
      throws IOException {
    TrainStage.Curated data = TrainStage.Curated.read(runDir, tokenizer, curation.val());
    CuratedDataset trainSet = data.train();
    CuratedDataset valSet = data.val();
    GptConfig studentConfig =
        gpt(tokenizer, config.studentLayers(), config.studentHeads(), config.studentEmbd());
    TrainStage trainer =
        TrainStage.students(config, config.studentSteps(), config.studentBatch(), "train", out);
    DistillationLoss kd = new DistillationLoss(config.alpha(), trainSet.temperature(), false);
    DistillationLoss hard = new DistillationLoss(0f, trainSet.temperature(), false);
    Map<String, TrainResult> curves =
        new LinkedHashMap<>(
            trainer.kdAndHardLabel(
                () -> LanguageModel.create(studentConfig, tokenizer, config.seed()),
                String.format(Locale.ROOT, "%,d params", studentConfig.parameterCount()),
                trainSet.examples(),
                valSet.examples(),
                kd,
                hard,
                runDir.resolve("models"),
                running));
    Map<String, String> losses = new LinkedHashMap<>();
    losses.put(TrainStage.KD, kd.description());
    losses.put(TrainStage.HARD_LABEL, hard.description());
    // Compressed students (issue 5): the KD student's recipe with ternary (BitNet b1.58) and
    // self-compressing linear layers, saved in the packed export format.
    Map<String, CompressionResult> compression = new LinkedHashMap<>();
    for (LinearMode mode : List.of(LinearMode.TERNARY, LinearMode.SELF_COMPRESSING)) {
      String name = mode == LinearMode.TERNARY ? "ternary-student" : "self-compressed-student";
      SelfCompression reg =
          mode == LinearMode.SELF_COMPRESSING ? new SelfCompression(SELF_COMPRESSION_GAMMA) : null;
      out.printf(
          Locale.ROOT,
          "[train] %s: %,d params, %s linear layers, KD as kd-student%n",
          name,
          studentConfig.parameterCount(),
          mode);
      try (LanguageModel s = LanguageModel.create(studentConfig, tokenizer, config.seed(), mode)) {
        curves.put(
            name,
            trainer.train(
                name,
                s,
                trainer.batches(trainSet.examples(), kd),
                trainer.batches(valSet.examples(), kd),
                reg));
        compression.put(
            name,
            compressionOf(
                mode, PackedExport.write(s, runDir.resolve("models").resolve(name)), reg));
      }
      losses.put(
          name,
          reg == null
              ? kd.description()
              : kd.description() + "; plus " + SELF_COMPRESSION_GAMMA + " * Q (bits per weight)");
    }
    for (Map.Entry<String, TrainResult> e : curves.entrySet()) {
      RunReport.saveCurve(runDir, e.getKey(), e.getValue());
    }
    return new CharResult(labels, curation, compression, losses);
  }

  /** Bits per weight, per-layer sparsity and (self-compressing) bits over training. */
  static CompressionResult compressionOf(
      LinearMode mode, PackedExport.Summary summary, SelfCompression reg) {
    List<LayerFacts> layers = new ArrayList<>();
    for (PackedExport.LayerStats l : summary.layers()) {
      layers.add(
          new LayerFacts(
              l.name(),
              LocalPipeline.round(l.bitsPerWeight(), 4),
              LocalPipeline.round(l.sparsity(), 4),
              l.removedChannels()));
    }
    List<List<Double>> bitsCurve = new ArrayList<>();
    if (reg != null) {
      List<double[]> h = reg.history();
      int stride = Math.max(1, h.size() / 100);
      for (int i = 0; i < h.size(); i += stride) {
        bitsCurve.add(List.of(h.get(i)[0], LocalPipeline.round(h.get(i)[1], 4)));
      }
    }
    return new CompressionResult(
        mode.name(),
        LocalPipeline.round(summary.bitsPerWeight(), 4),
        summary.bytesOnDisk(),
        layers,
        bitsCurve);
  }

  private GptConfig gpt(CharTokenizer tokenizer, int layers, int heads, int embd) {
    return new GptConfig(tokenizer.vocabSize(), config.blockSize(), layers, heads, embd, 0f);
  }

  /** Loads the cached teacher whose key matches, or trains one and caches it. */
  private Path teacherCheckpoint(GptConfig gc, CharTokenizer tokenizer, LocalPipeline.Splits splits)
      throws IOException {
    TrainConfig tc =
        TrainStage.teacherRecipe(
            config.teacherSteps(), config.teacherBatch(), config.teacherLr(), config.seed());
    return TeacherCache.loadOrTrain(
        Path.of(config.cacheDir()),
        "shakespeare",
        "shakespeare-char-gpt-" + gc.nLayer() + "l",
        LocalPipeline.CORPUS_SHA256,
        gc,
        tc,
        tokenizer,
        splits.train(),
        splits.val(),
        config.seed(),
        out);
  }

  private List<TextPrompt> windows(String source, int[] tokens, int count) {
    return LocalPipeline.windows(source, tokens, count, config.blockSize());
  }
}
