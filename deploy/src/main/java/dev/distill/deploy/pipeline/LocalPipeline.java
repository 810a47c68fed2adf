package dev.distill.deploy.pipeline;

import dev.distill.deploy.kafka.EmbeddedKafka;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.gpt.PackedExport;
import dev.distill.models.nn.LinearMode;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.schemas.avro.Provenance;
import dev.distill.spark.jobs.CurateConfig;
import dev.distill.spark.jobs.CurateJob;
import dev.distill.spark.jobs.CurateResult;
import dev.distill.spark.jobs.IngestConfig;
import dev.distill.spark.jobs.IngestJob;
import dev.distill.spark.jobs.IngestResult;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.SoftLabeler;
import dev.distill.teacher.inference.TeacherIdentity;
import dev.distill.teacher.io.ParquetOutputSink;
import dev.distill.teacher.kafka.KafkaOutputSink;
import dev.distill.teacher.kafka.Topics;
import dev.distill.teacher.labeling.LabelingRun;
import dev.distill.teacher.labeling.TeeSink;
import dev.distill.teacher.labeling.TextPrompt;
import dev.distill.trainer.compression.SelfCompression;
import dev.distill.trainer.data.Example;
import dev.distill.trainer.io.CuratedDataset;
import dev.distill.trainer.loss.DistillationLoss;
import dev.distill.trainer.training.Checkpointing;
import dev.distill.trainer.training.SoftLabelBatches;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainResult;
import dev.distill.trainer.training.TrainingLoop;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;

/**
 * The embedded default: every stage of the pipeline on one machine, with the real components (a
 * KRaft broker, local Spark, DJL), writing only under {@code runs/<run-id>/} and the model cache.
 * Only this class (an entry point) knows the run folder's layout and the topic name.
 */
public final class LocalPipeline {
  static final String CORPUS = "/corpus/tinyshakespeare.txt";
  static final String CORPUS_SHA256 =
      "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed";

  private final DemoConfig config;
  private final PrintStream out;
  private final Map<String, Double> timings = new LinkedHashMap<>();

  private final List<String> gates;
  private RunReport.Result lastResult;

  public LocalPipeline(DemoConfig config, List<String> gates, PrintStream out) {
    this.config = config;
    this.gates = List.copyOf(gates);
    this.out = out;
  }

  /** The evaluation of the last {@link #run}, with its gate outcomes. */
  public RunReport.Result result() {
    return lastResult;
  }

  /** Runs every stage and returns the path of report.json. */
  public Path run() throws IOException {
    long t0 = System.nanoTime();
    Path runDir = Path.of(config.runsDir(), config.runId()).toAbsolutePath();
    deleteRecursively(runDir); // re-running a run id replaces its outputs
    Files.createDirectories(runDir.resolve("models"));
    writeConfig(runDir.resolve("config.properties"));
    out.println("run folder: " + runDir);

    String text = corpus();
    CharTokenizer tokenizer = CharTokenizer.fromCorpus(text);
    Splits splits = Splits.of(tokenizer.encode(text));
    int[] heldOut = splits.heldOut();

    Map<String, Object> report = new LinkedHashMap<>();
    EmbeddedKafka broker = null;
    try {
      // 1. Kafka
      long t = System.nanoTime();
      String bootstrap = config.bootstrapServers();
      boolean needsKafka = config.runs(DemoConfig.CHAR) || config.runs(DemoConfig.BPE);
      if (bootstrap == null && needsKafka) {
        out.println("[kafka] starting a single-node KRaft broker (Kafka 3.9.2) on loopback");
        broker = EmbeddedKafka.start(runDir.resolve("kafka"), Duration.ofSeconds(90));
        bootstrap = broker.bootstrapServers();
      }
      if (needsKafka) {
        out.println("[kafka] bootstrap servers " + bootstrap + ", topic " + config.topic());
        Topics.ensure(bootstrap, Map.of(), config.topic(), 2, (short) 1);
      }
      timings.put("kafka", secondsSince(t));

      // 2-5. The char-level workload (the seed paper's setting)
      if (config.runs(DemoConfig.CHAR)) {
        runChar(runDir, bootstrap, tokenizer, splits, report);
      }

      // The subword workload: BPE tokenizer, Llama-family teacher and students, HF export
      if (config.runs(DemoConfig.BPE)) {
        t = System.nanoTime();
        report.put(SubwordStage.DIR, new SubwordStage(config, out).run(runDir, bootstrap));
        timings.put("subword", secondsSince(t));
      }

      // 6. The arithmetic chain-of-thought workload (its own teacher, students and evaluation)
      if (config.runs(DemoConfig.ARITHMETIC)) {
        t = System.nanoTime();
        report.put("arithmetic", new ArithmeticStage(config, out).run(runDir));
        timings.put("arithmetic", secondsSince(t));
      }

      // 7. Evaluation and report
      Map<String, Object> tm = new LinkedHashMap<>();
      timings.forEach((k, v) -> tm.put(k, round(v, 1)));
      report.put("timings_seconds", tm);
      RunReport.writeFacts(runDir, report);
      RunReport.Result result = RunReport.write(runDir, config, heldOut, gates, t0, out);
      lastResult = result;
      return result.reportJson();
    } finally {
      if (broker != null) {
        out.println("[kafka] stopping the broker");
        broker.close();
      }
    }
  }

  /**
   * The char-level workload: a GPT teacher (cached), soft labels through Kafka and Parquet, Spark
   * ingest and curation, the KD, hard-label and compressed students, their curves and losses.
   */
  private void runChar(
      Path runDir,
      String bootstrap,
      CharTokenizer tokenizer,
      Splits splits,
      Map<String, Object> report)
      throws IOException {
    int[] train = splits.train();
    int[] val = splits.val();
    int[] valLabelled = splits.valLabelled();
    // 2. Teacher
    long t = System.nanoTime();
    GptConfig teacherConfig =
        new GptConfig(
            tokenizer.vocabSize(),
            config.blockSize(),
            config.teacherLayers(),
            config.teacherHeads(),
            config.teacherEmbd(),
            0f);
    Path teacherDir = teacherCheckpoint(teacherConfig, tokenizer, train, val);
    timings.put("teacher", secondsSince(t));

    try (LanguageModel teacher = Checkpoints.load(teacherDir)) {
      copyRecursively(teacherDir, runDir.resolve("models/teacher"));

      // 3. Label
      t = System.nanoTime();
      LabelingConfig lc =
          new LabelingConfig(config.topK(), config.temperature(), config.labelBatch());
      Provenance provenance =
          TeacherIdentity.provenance(TeacherIdentity.teacherIdOf(teacherDir), teacher, lc);
      List<TextPrompt> prompts = new ArrayList<>();
      prompts.addAll(windows("shakespeare/train", train, config.trainWindows()));
      prompts.addAll(windows("shakespeare/val", valLabelled, config.valWindows()));
      LabelingRun labeling =
          new LabelingRun(new SoftLabeler(teacher, lc), provenance, config.runId());
      StageProgress lp = new StageProgress(out, "teacher-service");
      LabelingRun.Summary summary;
      try (KafkaOutputSink kafka =
              new KafkaOutputSink(
                  bootstrap, config.topic(), "distill-demo-" + config.runId(), Map.of());
          ParquetOutputSink parquet =
              new ParquetOutputSink(runDir.resolve("teacher-outputs").toString(), 2000);
          TeeSink sink = new TeeSink(List.of(kafka, parquet))) {
        summary =
            labeling.run(
                prompts, sink, done -> lp.update(done, prompts.size(), "prompts labelled"));
      }
      out.printf(
          Locale.ROOT,
          "[teacher-service] %d records, %d tokens, %.1f bytes/token (top-%d at T=%.1f) -> Kafka %s and %s%n",
          summary.records(),
          summary.tokens(),
          summary.bytesPerToken(),
          config.topK(),
          config.temperature(),
          config.topic(),
          runDir.resolve("teacher-outputs"));
      timings.put("label", secondsSince(t));
      report.put(
          "soft_labels",
          Facts.ordered(
              "records", summary.records(),
              "tokens", summary.tokens(),
              "bytes_per_token", round(summary.bytesPerToken(), 2),
              "top_k", config.topK(),
              "temperature", config.temperature(),
              "codec", provenance.getCodec()));

      // 4. Spark: ingest then curate
      t = System.nanoTime();
      out.println(
          "[spark] ingest: Kafka -> raw Parquet (Structured Streaming, AvailableNow, read_committed)");
      IngestResult ingest =
          IngestJob.run(
              new IngestConfig(
                  bootstrap,
                  config.topic(),
                  runDir.resolve("raw").toString(),
                  runDir.resolve("quarantine").toString(),
                  runDir.resolve("checkpoints/ingest").toString(),
                  config.sparkMaster(),
                  Map.of()));
      out.printf(
          "[spark] ingested %d records, quarantined %d%n", ingest.ingested(), ingest.quarantined());
      timings.put("ingest", secondsSince(t));
      t = System.nanoTime();
      out.println("[spark] curate: validate, dedupe, split");
      CurateResult curate =
          CurateJob.run(
              new CurateConfig(
                  runDir.resolve("raw").toString(),
                  runDir.resolve("curated").toString(),
                  runDir.resolve("curation-report.json").toString(),
                  config.curateValFraction(),
                  config.sparkMaster()));
      timings.put("curate", secondsSince(t));
      report.put("curation", curationFacts(out, "spark", ingest, curate));

      // 5. Students
      t = System.nanoTime();
      String curated = runDir.resolve("curated").toString();
      CuratedDataset trainSet =
          CuratedDataset.read(
              curated, "train", tokenizer.id(), tokenizer.sha256(), new Configuration());
      CuratedDataset valSet =
          CuratedDataset.read(
              curated, "val", tokenizer.id(), tokenizer.sha256(), new Configuration());
      GptConfig studentConfig =
          new GptConfig(
              tokenizer.vocabSize(),
              config.blockSize(),
              config.studentLayers(),
              config.studentHeads(),
              config.studentEmbd(),
              0f);
      TrainConfig studentTrain =
          new TrainConfig(
              config.studentSteps(),
              config.studentBatch(),
              config.studentLr(),
              Math.max(1, config.studentSteps() / 20),
              config.studentLr() / 10,
              0.01f,
              1.0f,
              Math.max(1, config.studentSteps() / 5),
              4,
              config.seed());
      DistillationLoss kdLoss = new DistillationLoss(config.alpha(), trainSet.temperature(), false);
      DistillationLoss hardLoss = new DistillationLoss(0f, trainSet.temperature(), false);
      Map<String, TrainResult> curves = new LinkedHashMap<>();
      curves.put(
          "kd-student",
          trainStudent(
              "kd-student",
              studentConfig,
              tokenizer,
              trainSet.examples(),
              valSet.examples(),
              kdLoss,
              studentTrain,
              runDir));
      curves.put(
          "hard-label-student",
          trainStudent(
              "hard-label-student",
              studentConfig,
              tokenizer,
              trainSet.examples(),
              valSet.examples(),
              hardLoss,
              studentTrain,
              runDir));
      // Compressed students (issue 5): the KD student's recipe with ternary (BitNet b1.58) and
      // self-compressing linear layers, saved in the packed export format.
      Map<String, Object> compression = new LinkedHashMap<>();
      for (LinearMode mode : List.of(LinearMode.TERNARY, LinearMode.SELF_COMPRESSING)) {
        String name = mode == LinearMode.TERNARY ? "ternary-student" : "self-compressed-student";
        SelfCompression reg =
            mode == LinearMode.SELF_COMPRESSING
                ? new SelfCompression(SELF_COMPRESSION_GAMMA)
                : null;
        curves.put(
            name,
            trainCompressedStudent(
                name,
                mode,
                reg,
                studentConfig,
                tokenizer,
                trainSet.examples(),
                valSet.examples(),
                kdLoss,
                studentTrain,
                runDir,
                compression));
      }
      report.put("compression", compression);
      timings.put("train", secondsSince(t));
      for (Map.Entry<String, TrainResult> e : curves.entrySet()) {
        RunReport.saveCurve(runDir, e.getKey(), e.getValue());
      }
      report.put("loss.kd-student", kdLoss.description());
      report.put("loss.hard-label-student", hardLoss.description());
      report.put("loss.ternary-student", kdLoss.description());
      report.put(
          "loss.self-compressed-student",
          kdLoss.description() + "; plus " + SELF_COMPRESSION_GAMMA + " * Q (bits per weight)");
    }
  }

  private TrainResult trainStudent(
      String name,
      GptConfig studentConfig,
      CharTokenizer tokenizer,
      List<Example> train,
      List<Example> val,
      DistillationLoss loss,
      TrainConfig tc,
      Path runDir)
      throws IOException {
    out.printf(
        Locale.ROOT,
        "[train] %s: %,d params, alpha %.2f (KD: forward KL at T=%.1f x T^2, tail bucket)%n",
        name,
        studentConfig.parameterCount(),
        loss.alpha(),
        loss.temperature());
    StageProgress sp = new StageProgress(out, "train " + name);
    try (LanguageModel student = LanguageModel.create(studentConfig, tokenizer, config.seed())) {
      TrainResult r =
          TrainingLoop.run(
              student,
              new SoftLabelBatches(train, tc.batchSize(), loss),
              new SoftLabelBatches(val, tc.batchSize(), loss),
              tc,
              (step, total, l, v, tps) ->
                  sp.update(step, total, StageProgress.trainingDetail(l, v, tps)));
      Checkpoints.save(
          student,
          runDir.resolve("models").resolve(name),
          Map.of("role", "student", "loss", loss.description(), "run_id", config.runId()));
      return r;
    }
  }

  /**
   * Weight of the self-compression size term (bits per weight) against the KD loss in nats: at the
   * initial 8 bits it adds 0.16 nats, a tenth of a trained student's loss.
   */
  static final float SELF_COMPRESSION_GAMMA = 0.02f;

  /**
   * Trains a compressed student like the KD student, writes its packed export under {@code
   * models/NAME}, and records bits per weight, per-layer sparsity and (self-compressing) bits per
   * weight over training in {@code compression}.
   */
  private TrainResult trainCompressedStudent(
      String name,
      LinearMode mode,
      SelfCompression reg,
      GptConfig studentConfig,
      CharTokenizer tokenizer,
      List<Example> train,
      List<Example> val,
      DistillationLoss loss,
      TrainConfig tc,
      Path runDir,
      Map<String, Object> compression)
      throws IOException {
    out.printf(
        Locale.ROOT,
        "[train] %s: %,d params, %s linear layers, KD as kd-student%n",
        name,
        studentConfig.parameterCount(),
        mode);
    StageProgress sp = new StageProgress(out, "train " + name);
    try (LanguageModel student =
        LanguageModel.create(studentConfig, tokenizer, config.seed(), mode)) {
      TrainResult r =
          TrainingLoop.run(
              student,
              new SoftLabelBatches(train, tc.batchSize(), loss),
              new SoftLabelBatches(val, tc.batchSize(), loss),
              tc,
              (step, total, l, v, tps) ->
                  sp.update(step, total, StageProgress.trainingDetail(l, v, tps)),
              Checkpointing.none(),
              reg);
      PackedExport.Summary summary =
          PackedExport.write(student, runDir.resolve("models").resolve(name));
      List<Map<String, Object>> layers = new ArrayList<>();
      for (PackedExport.LayerStats l : summary.layers()) {
        layers.add(
            Facts.ordered(
                "layer", l.name(),
                "bits_per_weight", round(l.bitsPerWeight(), 4),
                "sparsity", round(l.sparsity(), 4),
                "removed_channels", l.removedChannels()));
      }
      List<List<Double>> bitsCurve = new ArrayList<>();
      if (reg != null) {
        List<double[]> h = reg.history();
        int stride = Math.max(1, h.size() / 100);
        for (int i = 0; i < h.size(); i += stride) {
          bitsCurve.add(List.of(h.get(i)[0], round(h.get(i)[1], 4)));
        }
      }
      compression.put(
          name,
          Facts.ordered(
              "mode", mode.name(),
              "bits_per_weight", round(summary.bitsPerWeight(), 4),
              "bytes_on_disk", summary.bytesOnDisk(),
              "layers", layers,
              "bits_per_weight_over_training", bitsCurve));
      return r;
    }
  }

  /** Loads the cached teacher whose key matches, or trains one and caches it. */
  private Path teacherCheckpoint(GptConfig gc, CharTokenizer tokenizer, int[] train, int[] val)
      throws IOException {
    TrainConfig tc =
        new TrainConfig(
            config.teacherSteps(),
            config.teacherBatch(),
            config.teacherLr(),
            Math.max(1, config.teacherSteps() / 20),
            config.teacherLr() / 10,
            0.01f,
            1.0f,
            Math.max(1, config.teacherSteps() / 4),
            8,
            config.seed());
    return TeacherCache.loadOrTrain(
        Path.of(config.cacheDir()),
        "shakespeare",
        "shakespeare-char-gpt-" + gc.nLayer() + "l",
        CORPUS_SHA256,
        gc,
        tc,
        tokenizer,
        train,
        val,
        config.seed(),
        out);
  }

  /** Evenly spaced windows of blockSize + 1 tokens. */
  private List<TextPrompt> windows(String source, int[] tokens, int count) {
    return windows(source, tokens, count, config.blockSize());
  }

  /** Evenly spaced windows of blockSize + 1 tokens, as prompts named SOURCE@START. */
  /**
   * Prints one line about a curation ({@code [stage] curated ...}) and returns its counts for
   * report.json; every workload that curates soft labels reports them the same way.
   */
  static Map<String, Object> curationFacts(
      PrintStream out, String stage, IngestResult ingest, CurateResult curate) {
    out.printf(
        "[%s] curated %d -> kept %d (train %d, val %d), rejected %d %s, duplicates %d%n",
        stage,
        curate.input(),
        curate.kept(),
        curate.train(),
        curate.val(),
        curate.rejected(),
        curate.rejectedByReason(),
        curate.duplicates());
    return Facts.ordered(
        "input", curate.input(),
        "kept", curate.kept(),
        "rejected", curate.rejected(),
        "rejected_by_reason", curate.rejectedByReason(),
        "duplicates", curate.duplicates(),
        "train", curate.train(),
        "val", curate.val(),
        "ingested", ingest.ingested(),
        "quarantined_at_ingest", ingest.quarantined());
  }

  static List<TextPrompt> windows(String source, int[] tokens, int count, int blockSize) {
    int len = blockSize + 1;
    int available = tokens.length - len;
    if (available < 1) {
      throw new IllegalArgumentException(source + " is shorter than one window");
    }
    List<TextPrompt> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      int start = (int) ((long) available * i / count);
      out.add(
          new TextPrompt(
              source + "@" + start,
              source,
              java.util.Arrays.copyOfRange(tokens, start, start + len)));
    }
    return out;
  }

  private void writeConfig(Path file) throws IOException {
    StringBuilder sb = new StringBuilder("# the full configuration this run used\n");
    config.toMap().forEach((k, v) -> sb.append(k).append(" = ").append(v).append('\n'));
    Files.writeString(file, sb.toString());
  }

  /**
   * The corpus split by position: 90% train, 10% val (the teacher's validation text). The first
   * half of the val text is labelled (the "val" slice of the soft labels); the second half is held
   * out from every stage and used only by the evaluation.
   */
  record Splits(int[] train, int[] val, int[] valLabelled, int[] heldOut) {
    static Splits of(int[] all) {
      int n = (int) (all.length * 0.9);
      int[] val = java.util.Arrays.copyOfRange(all, n, all.length);
      return new Splits(
          java.util.Arrays.copyOfRange(all, 0, n),
          val,
          java.util.Arrays.copyOfRange(val, 0, val.length / 2),
          java.util.Arrays.copyOfRange(val, val.length / 2, val.length));
    }
  }

  /** The held-out tokens of the bundled corpus, for {@code distill eval}. */
  public static int[] heldOutTokens() throws IOException {
    String text = corpus();
    return Splits.of(CharTokenizer.fromCorpus(text).encode(text)).heldOut();
  }

  static String corpus() throws IOException {
    try (InputStream in = LocalPipeline.class.getResourceAsStream(CORPUS)) {
      if (in == null) {
        throw new IOException("bundled corpus " + CORPUS + " missing from the classpath");
      }
      byte[] bytes = in.readAllBytes();
      String sha = sha256Bytes(bytes);
      if (!sha.equals(CORPUS_SHA256)) {
        throw new IOException("bundled corpus has sha256 " + sha + ", expected " + CORPUS_SHA256);
      }
      return new String(bytes, StandardCharsets.UTF_8);
    }
  }

  private static double round(double v, int digits) {
    double f = Math.pow(10, digits);
    return Math.round(v * f) / f;
  }

  private static double secondsSince(long t) {
    return (System.nanoTime() - t) / 1e9;
  }

  static String sha256(String s) {
    return sha256Bytes(s.getBytes(StandardCharsets.UTF_8));
  }

  static String sha256Bytes(byte[] b) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static void deleteRecursively(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      for (Path x : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(x);
      }
    }
  }

  static void copyRecursively(Path from, Path to) throws IOException {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path x : s.toList()) {
        Path target = to.resolve(from.relativize(x).toString());
        if (Files.isDirectory(x)) {
          Files.createDirectories(target);
        } else {
          Files.copy(x, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
  }
}
