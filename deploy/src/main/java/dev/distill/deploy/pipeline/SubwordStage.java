package dev.distill.deploy.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.annotations.SerializedName;
import dev.distill.deploy.pipeline.CurateStage.CurationResult;
import dev.distill.deploy.pipeline.LabelStage.LabelResult;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.hf.HfConfig;
import dev.distill.models.hf.HfDecoder;
import dev.distill.models.hf.HfModels;
import dev.distill.models.tokenizer.Tokenizer;
import dev.distill.models.tokenizer.Tokenizers;
import dev.distill.spark.jobs.IngestResult;
import dev.distill.teacher.kafka.Topics;
import dev.distill.teacher.labeling.TextPrompt;
import dev.distill.trainer.io.CuratedDataset;
import dev.distill.trainer.loss.DistillationLoss;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainResult;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The subword workload, every stage real: tiny Shakespeare through the bundled byte-level BPE
 * tokenizer; a Llama-family teacher ({@link HfDecoder}: RoPE, RMSNorm, SwiGLU, grouped-query
 * attention) trained once and cached; its top-k soft labels through the same path as the char
 * workload (teacher-service labelling, Kafka in transactions and Parquet, Spark ingest and
 * curation); a Llama-family student of about a quarter of the teacher's parameters distilled from
 * them, beside the same student trained on hard labels only (same steps and seed); the KD student
 * exported as a Hugging Face folder under the run's {@code models/} and reloaded to check it.
 *
 * <p>The text is split by character at the char workload's boundaries (90% train, then the
 * teacher's val text, whose second half is held out from every stage), so both workloads are
 * evaluated on the same held-out characters and their losses per character compare.
 */
final class SubwordStage {
  /** Folder of the workload under the run folder. */
  static final String DIR = "subword";

  /** Task name in per-slice tables and the report. */
  static final String TASK = DemoConfig.BPE;

  /** The HF export of the KD student, under the run's {@code models/}. */
  static final String HF_EXPORT = "shakespeare-bpe-kd-student-hf";

  static final String TOKENIZER_RESOURCE = "/tokenizers/bpe-shakespeare/";
  static final List<String> TOKENIZER_FILES =
      List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json");

  /** Prefix of this workload's stage names, e.g. {@code subword teacher}. */
  static final String STAGE = "subword ";

  private final DemoConfig config;
  private final SubwordConfig w;
  private final StageClock clock;
  private final PrintStream out;

  SubwordStage(DemoConfig config, StageClock clock, PrintStream out) {
    this.config = config;
    this.w = config.subword();
    this.clock = clock;
    this.out = out;
  }

  /** The corpus cut by character at the char workload's boundaries ({@link LocalPipeline}). */
  record Texts(String train, String val, String valLabelled, String heldOut) {
    static Texts of(String text) {
      int n = (int) (text.length() * 0.9);
      String val = text.substring(n);
      return new Texts(
          text.substring(0, n),
          val,
          val.substring(0, val.length() / 2),
          val.substring(val.length() / 2));
    }
  }

  /** Copies the bundled tokenizer files to {@code dir} and loads them. */
  static Tokenizer bundledTokenizer(Path dir) throws IOException {
    Files.createDirectories(dir);
    for (String f : TOKENIZER_FILES) {
      try (InputStream in = SubwordStage.class.getResourceAsStream(TOKENIZER_RESOURCE + f)) {
        if (in == null) {
          throw new IOException(
              "bundled tokenizer file " + TOKENIZER_RESOURCE + f + " missing from the classpath");
        }
        Files.copy(in, dir.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    }
    return Tokenizers.load(dir);
  }

  /**
   * The teacher's Llama config: untied head, no biases, RoPE theta 10,000, context {@code
   * subword.block-size}, the vocabulary of the tokenizer.
   */
  static HfConfig teacherConfig(SubwordConfig w, Tokenizer tokenizer) {
    JsonObject o = new JsonObject();
    JsonArray arch = new JsonArray();
    arch.add("LlamaForCausalLM");
    o.add("architectures", arch);
    o.addProperty("model_type", "llama");
    o.addProperty("vocab_size", tokenizer.vocabSize());
    o.addProperty("hidden_size", w.teacherHidden());
    o.addProperty("intermediate_size", w.teacherIntermediate());
    o.addProperty("num_hidden_layers", w.teacherLayers());
    o.addProperty("num_attention_heads", w.teacherHeads());
    o.addProperty("num_key_value_heads", w.teacherKvHeads());
    o.addProperty("head_dim", w.teacherHidden() / w.teacherHeads());
    o.addProperty("max_position_embeddings", w.blockSize());
    o.addProperty("hidden_act", "silu");
    o.addProperty("rms_norm_eps", 1e-6);
    o.addProperty("rope_theta", 10000.0);
    o.add("rope_scaling", JsonNull.INSTANCE);
    o.addProperty("attention_bias", false);
    o.addProperty("mlp_bias", false);
    o.addProperty("tie_word_embeddings", false);
    tokenizer
        .tokenId("<|endoftext|>")
        .ifPresent(
            id -> {
              o.addProperty("bos_token_id", id);
              o.addProperty("eos_token_id", id);
            });
    o.addProperty("torch_dtype", "float32");
    return HfConfig.parse(o.toString());
  }

  /** The student: the teacher's config resized to {@code subword.student-*}. */
  static HfConfig studentConfig(SubwordConfig w, HfConfig teacher) {
    return teacher.resized(
        w.studentLayers(),
        w.studentHidden(),
        w.studentHeads(),
        w.studentKvHeads(),
        w.studentIntermediate());
  }

  /**
   * report.json's {@code subword.tokenizer}.
   *
   * @param charactersPerToken of the training text, rounded to 0.0001
   */
  record TokenizerFacts(
      String id,
      String sha256,
      @SerializedName("vocab_size") int vocabSize,
      @SerializedName("train_tokens") long trainTokens,
      @SerializedName("train_characters") long trainCharacters,
      @SerializedName("characters_per_token") double charactersPerToken) {}

  /**
   * What the workload produced (report.json's {@code subword}, before the evaluation's teacher,
   * students and eval are added).
   *
   * @param losses the students' training objectives, by name
   * @param timingsSeconds seconds of this workload's stages, by stage name without the prefix
   */
  record SubwordResult(
      TokenizerFacts tokenizer,
      @SerializedName("soft_labels") LabelResult softLabels,
      CurationResult curation,
      Map<String, String> losses,
      @SerializedName("hf_export") HfExport hfExport,
      @SerializedName("student_params_vs_teacher") double studentParamsVsTeacher,
      @SerializedName("timings_seconds") Map<String, Double> timingsSeconds) {}

  SubwordResult run(Path runDir, String bootstrap) throws IOException {
    Path dir = runDir.resolve(DIR);
    Texts texts = Texts.of(LocalPipeline.corpus());
    try (Tokenizer tok = bundledTokenizer(dir.resolve("tokenizer"))) {
      int[] train = tok.encode(texts.train());
      int[] val = tok.encode(texts.val());
      int[] valLabelled = tok.encode(texts.valLabelled());
      out.printf(
          Locale.ROOT,
          "[subword] tokenizer %s: %d ids; train text %,d characters -> %,d tokens (%.2f"
              + " characters per token)%n",
          tok.id(),
          tok.vocabSize(),
          texts.train().length(),
          train.length,
          (double) texts.train().length() / train.length);
      TokenizerFacts tokenizer =
          new TokenizerFacts(
              tok.id(),
              tok.sha256(),
              tok.vocabSize(),
              train.length,
              texts.train().length(),
              round((double) texts.train().length() / train.length, 4));

      // Teacher (cached by config + tokenizer + corpus + training config)
      HfConfig teacherConfig = teacherConfig(w, tok);
      Path teacherDir =
          clock.time(STAGE + "teacher", () -> teacher(teacherConfig, tok, train, val));
      LocalPipeline.copyRecursively(teacherDir, dir.resolve("models/teacher"));

      try (LanguageModel teacher = Checkpoints.load(teacherDir)) {
        // Soft labels: teacher-service labelling -> Kafka (transactions) and Parquet
        String topic = config.topic() + ".subword";
        List<TextPrompt> prompts = new ArrayList<>();
        prompts.addAll(
            LocalPipeline.windows("shakespeare-bpe/train", train, w.trainWindows(), w.blockSize()));
        prompts.addAll(
            LocalPipeline.windows(
                "shakespeare-bpe/val", valLabelled, w.valWindows(), w.blockSize()));
        LabelResult labels =
            clock.time(
                STAGE + "label",
                () -> {
                  Topics.ensure(bootstrap, Map.of(), topic, 2, (short) 1);
                  return new LabelStage(config, "teacher-service subword", out)
                      .run(
                          teacher,
                          teacherDir,
                          prompts,
                          bootstrap,
                          topic,
                          "distill-demo-" + config.runId() + "-subword",
                          dir.resolve("teacher-outputs"));
                });

        // Spark: ingest then curate, as the char workload
        CurateStage spark = new CurateStage(config, dir, "spark subword", out);
        IngestResult ingest = clock.time(STAGE + "ingest", () -> spark.ingest(bootstrap, topic));
        CurationResult curation = clock.time(STAGE + "curate", () -> spark.curate(ingest));

        // Students: KD and hard labels only, same architecture, steps and seed
        HfConfig studentConfig = studentConfig(w, teacherConfig);
        Map<String, String> losses =
            clock.time(
                STAGE + "train",
                r -> trainStudents(dir, tok, teacherConfig, studentConfig, curation, r));

        // The KD student as a Hugging Face folder, reloaded and compared on held-out text
        HfExport export =
            clock.time(STAGE + "export", () -> export(runDir, dir, tok, texts, studentConfig));
        Map<String, Double> timings = new LinkedHashMap<>();
        clock
            .seconds()
            .forEach(
                (k, v) -> {
                  if (k.startsWith(STAGE)) {
                    timings.put(k.substring(STAGE.length()), v);
                  }
                });
        return new SubwordResult(
            tokenizer,
            labels,
            curation,
            losses,
            export,
            round((double) studentConfig.parameterCount() / teacherConfig.parameterCount(), 4),
            timings);
      }
    }
  }

  private Path teacher(HfConfig teacherConfig, Tokenizer tok, int[] train, int[] val)
      throws IOException {
    TrainConfig teacherTrain =
        TrainStage.teacherRecipe(w.teacherSteps(), w.teacherBatch(), w.teacherLr(), config.seed());
    return TeacherCache.loadOrTrain(
        Path.of(config.cacheDir()),
        TASK,
        "shakespeare-bpe-llama-" + teacherConfig.nLayer() + "l",
        LocalPipeline.CORPUS_SHA256,
        teacherConfig,
        String.format(
            Locale.ROOT,
            "a Llama-family decoder (RoPE, RMSNorm, SwiGLU, GQA): %d layers, %d heads"
                + " (%d key/value), %d wide, context %d BPE tokens",
            teacherConfig.nLayer(),
            teacherConfig.nHead(),
            teacherConfig.nKvHead(),
            teacherConfig.hidden(),
            teacherConfig.blockSize()),
        () -> LanguageModel.create(new HfDecoder(teacherConfig), tok, config.seed()),
        teacherTrain,
        tok,
        train,
        val,
        out);
  }

  /**
   * The KD and hard-label students, trained at the same time ({@link TrainStage#concurrently});
   * returns each one's loss description.
   */
  private Map<String, String> trainStudents(
      Path dir,
      Tokenizer tok,
      HfConfig teacherConfig,
      HfConfig studentConfig,
      CurationResult curation,
      StageClock.Running running)
      throws IOException {
    TrainStage.Curated data = TrainStage.Curated.read(dir, tok, curation.val());
    CuratedDataset trainSet = data.train();
    CuratedDataset valSet = data.val();
    TrainStage trainer =
        TrainStage.students(config, w.studentSteps(), w.studentBatch(), "train subword", out);
    DistillationLoss kd = new DistillationLoss(config.alpha(), trainSet.temperature(), false);
    DistillationLoss hard = new DistillationLoss(0f, trainSet.temperature(), false);
    Map<String, TrainResult> curves =
        trainer.kdAndHardLabel(
            () -> LanguageModel.create(new HfDecoder(studentConfig), tok, config.seed()),
            String.format(
                Locale.ROOT,
                "Llama-family, %,d params (%.3f of the teacher)",
                studentConfig.parameterCount(),
                (double) studentConfig.parameterCount() / teacherConfig.parameterCount()),
            trainSet.examples(),
            valSet.examples(),
            kd,
            hard,
            dir.resolve("models"),
            running);
    for (Map.Entry<String, TrainResult> e : curves.entrySet()) {
      RunReport.saveCurve(dir, e.getKey(), e.getValue());
    }
    Map<String, String> losses = new LinkedHashMap<>();
    losses.put(TrainStage.KD, kd.description());
    losses.put(TrainStage.HARD_LABEL, hard.description());
    return losses;
  }

  /** report.json's {@code subword.hf_export}. */
  record HfExport(
      String path,
      String architecture,
      @SerializedName("reload_max_abs_logit_diff") double reloadMaxAbsLogitDiff,
      @SerializedName("probe_tokens") int probeTokens) {}

  private HfExport export(Path runDir, Path dir, Tokenizer tok, Texts texts, HfConfig studentConfig)
      throws IOException {
    Path export = runDir.resolve("models").resolve(HF_EXPORT);
    try (LanguageModel s = Checkpoints.load(dir.resolve("models/kd-student"))) {
      HfModels.export(s, export);
      int[] probe = Arrays.copyOf(tok.encode(texts.heldOut()), w.blockSize());
      double diff = maxAbsLogitDiff(s, export, probe);
      out.printf(
          Locale.ROOT,
          "[export] kd-student -> Hugging Face folder %s; reloaded, max |logit diff| %.2e%n",
          export,
          diff);
      return new HfExport(
          "models/" + HF_EXPORT, String.valueOf(studentConfig.architecture()), diff, probe.length);
    }
  }

  /**
   * Max |logit difference| between {@code model} and the Hugging Face folder it was exported to.
   */
  static double maxAbsLogitDiff(LanguageModel model, Path hfDir, int[] tokens) throws IOException {
    try (LanguageModel reloaded = HfModels.load(hfDir);
        NDManager m = NDManager.newBaseManager()) {
      NDArray a = model.logits(m, new int[][] {tokens});
      NDArray b = reloaded.logits(m, new int[][] {tokens});
      if (!a.getShape().equals(b.getShape())) {
        throw new IOException(
            hfDir + " reloads with logits of shape " + b.getShape() + ", expected " + a.getShape());
      }
      return a.sub(b).abs().max().getFloat();
    }
  }

  /** The held-out text's token ids under {@code tokenizer}. */
  static int[] heldOutTokens(Tokenizer tokenizer) throws IOException {
    return tokenizer.encode(Texts.of(LocalPipeline.corpus()).heldOut());
  }

  /**
   * Characters per scored token in the evaluation windows (those of {@link
   * dev.distill.trainer.evaluation.HeldOutEvaluator}: {@code min(available, maxWindows)}
   * non-overlapping windows of {@code blockSize + 1} tokens, evenly strided): the characters the
   * targets (positions 1..blockSize) decode to, over their count. Loss per character = loss per
   * token / this.
   */
  static double charactersPerScoredToken(
      Tokenizer tokenizer, int[] heldOut, int blockSize, int maxWindows) {
    int available = (heldOut.length - 1) / blockSize;
    if (available < 1) {
      throw new IllegalArgumentException("held-out text shorter than one window");
    }
    int n = Math.min(available, maxWindows);
    int stride = available / n;
    long chars = 0;
    long tokens = 0;
    for (int wi = 0; wi < n; wi++) {
      int start = wi * stride * blockSize;
      int[] targets = Arrays.copyOfRange(heldOut, start + 1, start + blockSize + 1);
      String s = tokenizer.decode(targets);
      chars += s.codePointCount(0, s.length());
      tokens += targets.length;
    }
    return (double) chars / tokens;
  }

  private static double round(double v, int digits) {
    double f = Math.pow(10, digits);
    return Math.round(v * f) / f;
  }
}
