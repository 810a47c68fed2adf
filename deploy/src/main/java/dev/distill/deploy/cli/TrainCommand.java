package dev.distill.deploy.cli;

import dev.distill.deploy.config.ConfigKeys;
import dev.distill.deploy.pipeline.DemoConfig;
import dev.distill.deploy.training.HttpOnPolicyTeacher;
import dev.distill.models.checkpoint.Checkpoints;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.hf.HfConfig;
import dev.distill.models.hf.HfDecoder;
import dev.distill.models.hf.HfModels;
import dev.distill.models.hf.ModelSources;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.models.tokenizer.Tokenizer;
import dev.distill.models.tokenizer.Tokenizers;
import dev.distill.spark.training.BarrierTrainJob;
import dev.distill.trainer.data.Example;
import dev.distill.trainer.distributed.DataParallelStudentTrainer;
import dev.distill.trainer.io.CuratedDataset;
import dev.distill.trainer.io.CuratedStream;
import dev.distill.trainer.io.MetricsLog;
import dev.distill.trainer.loss.DistillationLoss;
import dev.distill.trainer.loss.Divergence;
import dev.distill.trainer.training.BatchSource;
import dev.distill.trainer.training.Checkpointing;
import dev.distill.trainer.training.CrossTokenizerBatches;
import dev.distill.trainer.training.LocalOnPolicyTeacher;
import dev.distill.trainer.training.OnPolicyBatches;
import dev.distill.trainer.training.OnPolicyConfig;
import dev.distill.trainer.training.OnPolicyTeacher;
import dev.distill.trainer.training.ProgressPrinter;
import dev.distill.trainer.training.SoftLabelBatches;
import dev.distill.trainer.training.StreamingBatches;
import dev.distill.trainer.training.StudentRecipe;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainResult;
import dev.distill.trainer.training.TrainingLoop;
import dev.distill.training.spi.TrainSummary;
import dev.distill.training.spi.WorkerTask;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * {@code distill train}: the KD student on a curated folder, in this process or, with {@code
 * --spark}, data-parallel on Spark in barrier execution mode (one DJL trainer per barrier task).
 */
@Command(
    name = "train",
    mixinStandardHelpOptions = true,
    description = {
      "Trains the KD student (conf/train.conf) on a curated Parquet folder and writes its"
          + " checkpoint to --output.",
      "In this process: streams the train split (flat memory), uses the train.divergence KD"
          + " divergence, checkpoints every train.checkpoint-every steps under"
          + " <output>.checkpoints; --resume continues from the newest.",
      "With --spark, runs train.spark.workers barrier tasks on spark.master, synchronised every"
          + " step (train.spark.sync = allreduce), every train.spark.average-every steps"
          + " (average) or by DiLoCo outer steps every train.spark.inner-steps (diloco); the"
          + " student-trainer jars must be on the Spark class path (--master spark://... of"
          + " `distill cluster start` has them). Rank 0"
          + " writes the same checkpoints (train.divergence and --resume apply too)."
    })
final class TrainCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--curated", required = true, description = "Curated folder (with _SUCCESS).")
  String curated;

  @Option(
      names = "--tokenizer",
      description =
          "The teacher's tokenizer: a tokenizer.json (e.g. runs/demo/models/teacher/tokenizer.json)"
              + " or a folder holding one (a Hugging Face tokenizer with its config files)."
              + " Not needed with --student, whose folder holds its tokenizer.")
  Path tokenizer;

  @Option(
      names = "--student",
      description =
          "Start from pretrained weights: hf:FOLDER (a Hugging Face model folder) or one of our"
              + " checkpoint folders. Its tokenizer must be the teacher's (sha256).")
  String student;

  @Option(
      names = "--student-config",
      description =
          "A Hugging Face config.json (GPT-2 or Llama family) for a new student with random"
              + " weights, e.g. a smaller copy of the teacher's config; needs --tokenizer.")
  Path studentConfig;

  @Option(
      names = "--export-hf",
      description =
          "Also write the trained student as a Hugging Face folder (config.json,"
              + " model.safetensors, tokenizer files, generation_config.json) here.")
  Path exportHf;

  @Option(names = "--output", required = true, description = "Checkpoint folder to write.")
  String output;

  @Option(names = "--spark", description = "Data-parallel on Spark (barrier execution mode).")
  boolean spark;

  @Option(
      names = "--master",
      description =
          "Spark master for --spark, e.g. the spark:// URL `distill cluster start` printed;"
              + " overrides spark.master (default local[2]).")
  String master;

  @Option(
      names = "--resume",
      description =
          "Continue from the newest valid checkpoint under <output>.checkpoints"
              + " (model, optimiser, data cursor), giving the run an uninterrupted one gives.")
  boolean resume;

  @Option(
      names = "--stop-after",
      description =
          "Stop after this step, as a kill would (checkpoints stay, no final"
              + " model); for pre-emption drills and tests of --resume.")
  Integer stopAfter;

  @CommandLine.Mixin ConfigOptions configOptions = new ConfigOptions();

  // ---- On-policy distillation (issue 15, GKD): the teacher that scores the student's samples.
  @Option(
      names = "--teacher-checkpoint",
      description =
          "On-policy teacher in this process (train.on-policy-fraction > 0): hf:FOLDER or one of"
              + " our checkpoint folders; its tokenizer must be the student's.")
  String teacherCheckpoint;

  @Option(
      names = "--teacher-url",
      description =
          "On-policy teacher over HTTP (train.on-policy-fraction > 0): a `distill serve` base URL,"
              + " e.g. http://127.0.0.1:8080; POST /v1/soft-labels with the student's token ids,"
              + " bearer teacher.api-token; it must label at the curated labels' T and k.")
  java.net.URI teacherUrl;

  /** The on-policy options against the config; null when they are fine. */
  private String onPolicyOptionsError(OnPolicyConfig onPolicy) {
    boolean any = teacherCheckpoint != null || teacherUrl != null;
    if (teacherCheckpoint != null && teacherUrl != null) {
      return "give at most one of --teacher-checkpoint and --teacher-url";
    }
    if (onPolicy.enabled() && !any) {
      return "train.on-policy-fraction = "
          + onPolicy.fraction()
          + " needs a teacher: --teacher-checkpoint or --teacher-url";
    }
    if (!onPolicy.enabled() && any) {
      return "--teacher-checkpoint and --teacher-url are for on-policy training: set"
          + " train.on-policy-fraction > 0";
    }
    if (onPolicy.enabled() && spark) {
      return "on-policy training (train.on-policy-fraction > 0) is in-process only; drop --spark";
    }
    return null;
  }

  /** The on-policy teacher of {@code --teacher-checkpoint} or {@code --teacher-url}. */
  private OnPolicyTeacher onPolicyTeacher(
      Tokenizer student, float temperature, int k, int blockSize, List<AutoCloseable> owned)
      throws IOException {
    if (teacherCheckpoint != null) {
      LanguageModel t = ModelSources.open(teacherCheckpoint);
      owned.add(t);
      // the tokenizer first: a teacher with another one is refused before anything else
      LocalOnPolicyTeacher local = new LocalOnPolicyTeacher(t, student, temperature, k);
      if (t.config().blockSize() < blockSize) {
        throw new IllegalArgumentException(
            "--teacher-checkpoint "
                + teacherCheckpoint
                + " has a context of "
                + t.config().blockSize()
                + " tokens, the student "
                + blockSize);
      }
      return local;
    }
    OnPolicyTeacher http =
        new HttpOnPolicyTeacher(
            teacherUrl, teacherApiToken, student, temperature, k, blockSize + 1);
    owned.add(http);
    return http;
  }

  /**
   * The on-policy source over {@code train}, its teacher checked by one tiny request first: a
   * teacher with another tokenizer, T or k fails here, not at the first on-policy batch.
   */
  private OnPolicyBatches onPolicyBatches(
      BatchSource train,
      LanguageModel lm,
      CuratedDataset valSet,
      OnPolicyConfig onPolicy,
      long seed,
      List<AutoCloseable> owned)
      throws IOException {
    try {
      OnPolicyTeacher teacher =
          onPolicyTeacher(
              lm.tokenizer(), valSet.temperature(), valSet.topK(), lm.config().blockSize(), owned);
      teacher.score(List.of(Arrays.copyOf(valSet.examples().get(0).tokens(), 2)));
      return new OnPolicyBatches(train, lm, teacher, onPolicy, seed);
    } catch (IOException | RuntimeException e) {
      closeAll(owned);
      throw e;
    }
  }

  /** {@code teacher.api-token}, read before secrets leave the options. */
  private String teacherApiToken;

  /** Summary lines of the on-policy batches ({@code <output>.loss.properties}, stdout, metrics). */
  private static void onPolicySummary(
      OnPolicyBatches src, OnPolicyConfig cfg, String teacher, double seconds, StringBuilder sb) {
    OnPolicyBatches.Stats st = src.stats();
    sb.append("on-policy.teacher = ").append(teacher).append('\n');
    sb.append("on-policy.fraction = ").append(cfg.fraction()).append('\n');
    sb.append("on-policy.divergence = ").append(cfg.divergence().name()).append('\n');
    sb.append("on-policy.batches = ").append(st.onPolicyBatches()).append('\n');
    sb.append("on-policy.teacher-tokens = ").append(st.teacherTokens()).append('\n');
    sb.append("on-policy.rows-without-prompt-end = ")
        .append(st.rowsWithoutPromptEnd())
        .append('\n');
    sb.append("on-policy.teacher-tokens-per-second = ")
        .append(st.teacherTokensPerSecond())
        .append('\n');
    sb.append("on-policy.teacher-wait-share = ").append(st.teacherWaitShare(seconds)).append('\n');
    sb.append("on-policy.sampling-seconds = ").append(st.samplingSeconds()).append('\n');
    System.out.println("[train] on-policy (" + teacher + "): " + st.describe(seconds));
  }

  // ---- end of the on-policy options

  @Override
  public Integer call() throws IOException {
    Map<String, String> options;
    LocalRun local;
    ConfigKeys.Values values;
    try {
      Map<String, String> overrides = configOptions.collect();
      values = ConfigKeys.parse(overrides); // validates every key and value
      DemoConfig config = DemoConfig.from(overrides);
      options = new LinkedHashMap<>(DemoConfig.defaults(config.quick()));
      options.putAll(overrides);
      options.putAll(config.toMap());
      if (master != null) {
        if (!spark) {
          throw new IllegalArgumentException("--master needs --spark");
        }
        options.put("spark.master", master);
      }
      local = LocalRun.of(values); // the in-process keys (divergence, checkpoints)
      String onPolicyError = onPolicyOptionsError(local.onPolicy());
      if (onPolicyError != null) {
        throw new IllegalArgumentException(onPolicyError);
      }
      if (local.onPolicy().enabled() && crossTokenizerLoss(options) != null) {
        throw new IllegalArgumentException(
            "on-policy training (train.on-policy-fraction > 0) needs train.loss = kd (one"
                + " tokenizer for student and teacher), got train.loss="
                + options.get("train.loss"));
      }
      teacherApiToken = options.get("teacher.api-token");
      if (crossTokenizerLoss(options) != null && spark) {
        throw new IllegalArgumentException(
            "train.loss=" + options.get("train.loss") + " is in-process only; drop --spark");
      }
      if (spark && local.patience() > 0) {
        // DataParallelStudentTrainer refuses it too; failing here saves starting Spark.
        // (train.accumulation-steps works with --spark: each worker accumulates its micro-batches.)
        throw new IllegalArgumentException(
            "train.patience > 0 is in-process only; --spark (data-parallel) needs train.patience"
                + " = 0");
      }
      if (spark && local.concurrentMicroBatches() > 1) {
        throw new IllegalArgumentException(
            "train.concurrent-micro-batches > 1 is in-process only; with --spark each worker is"
                + " one process: set it to 1");
      }
      if (stopAfter != null && stopAfter < 1) {
        throw new IllegalArgumentException("--stop-after must be >= 1, got " + stopAfter);
      }
      for (ConfigKeys.Key k : ConfigKeys.all()) {
        if (k.secret()) {
          options.remove(k.name()); // never shipped to executors
        }
      }
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    }
    options.put("curated", curated);
    if (student != null && studentConfig != null) {
      throw new ParameterException(
          spec.commandLine(), "give at most one of --student and --student-config");
    }
    if (tokenizer == null && student == null) {
      throw new ParameterException(
          spec.commandLine(), "--tokenizer is needed unless --student names a model folder");
    }
    if (spark && (student != null || studentConfig != null || exportHf != null)) {
      throw new ParameterException(
          spec.commandLine(),
          "--student, --student-config and --export-hf are in-process only for now; drop --spark");
    }
    if (tokenizer != null) {
      options.put("tokenizer", tokenizer.toAbsolutePath().toString());
    }
    if (student != null) {
      options.put("student", student);
    }
    if (studentConfig != null) {
      options.put("student-config", studentConfig.toAbsolutePath().toString());
    }
    options.put("output", output);
    if (spark) {
      // The data-parallel trainer's checkpoints, in the same folder and format as in-process.
      options.put("checkpoints", checkpointDir().toAbsolutePath().toString());
      options.put("resume", Boolean.toString(resume));
      if (stopAfter != null) {
        options.put("stop-after", Integer.toString(stopAfter));
      }
    }
    int workers = spark ? values.integer("train.spark.workers") : 1;
    WorkerTask.Job job = null;
    if (spark) {
      try {
        job = sparkJob(values, curated, options.get("tokenizer"), output, checkpointDir(), resume);
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), e.getMessage(), e);
      }
    }
    List<TrainSummary> summaries;
    try {
      if (spark) {
        summaries =
            BarrierTrainJob.run(
                options.get("spark.master"), DataParallelStudentTrainer.NAME, workers, job);
      } else {
        summaries = trainInProcess(options, local).map(List::of).orElse(List.of());
      }
      // --stop-after: no final model (the workers report an empty output path)
      if (summaries.isEmpty() || summaries.get(0).output().isEmpty()) {
        System.out.printf(
            Locale.ROOT,
            "[train] stopped after step %d; checkpoints under %s (continue with --resume)%n",
            stopAfter,
            checkpointDir());
        return 0;
      }
    } catch (IOException | RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
    long tokens = summaries.stream().mapToLong(TrainSummary::tokens).sum();
    double seconds = summaries.stream().mapToDouble(TrainSummary::seconds).max().orElse(0);
    TrainSummary s0 = summaries.get(0);
    System.out.printf(
        Locale.ROOT,
        "[train] %d worker(s), %d steps, val loss %.4f, %,.0f tokens/s, %,d bytes sent per worker"
            + " per sync (%d syncs), %d examples unused%n",
        workers,
        s0.steps(),
        s0.valLoss(),
        tokens / seconds,
        s0.syncs() == 0 ? 0 : s0.bytesSent() / s0.syncs(),
        s0.syncs(),
        s0.unusedExamples());
    // The full configuration this run used, next to its output (secrets left out above).
    StringBuilder sb = new StringBuilder("# the full configuration this training run used\n");
    options.forEach((k, v) -> sb.append(k).append(" = ").append(v).append('\n'));
    Path out = Path.of(output);
    Files.writeString(out.resolveSibling(out.getFileName() + ".config.properties"), sb.toString());
    System.out.println(output);
    return 0;
  }

  /**
   * The data-parallel job, typed from the validated config values (the trainer's keys) and the
   * paths: it fails here, before Spark starts, not on the executors.
   */
  private WorkerTask.Job sparkJob(
      ConfigKeys.Values v,
      String curated,
      String tokenizer,
      String output,
      Path checkpoints,
      boolean resume) {
    return new WorkerTask.Job(
        new WorkerTask.Io(
            curated,
            tokenizer,
            output,
            checkpoints.toAbsolutePath().toString(),
            resume,
            stopAfter == null ? 0 : stopAfter),
        new WorkerTask.Synchronisation(
            WorkerTask.Sync.valueOf(v.string("train.spark.sync").toUpperCase(Locale.ROOT)),
            v.integer("train.spark.average-every"),
            v.integer("train.spark.inner-steps"),
            v.number("train.spark.outer-lr"),
            v.number("train.spark.outer-momentum"),
            WorkerTask.Transport.valueOf(
                v.string("train.spark.transport").toUpperCase(Locale.ROOT))),
        new WorkerTask.Hyperparameters(
            v.integer("model.block-size"),
            v.integer("student.layers"),
            v.integer("student.heads"),
            v.integer("student.embd"),
            v.integer("student.steps"),
            v.integer("student.batch"),
            v.number("student.lr"),
            v.number("student.alpha"),
            (Long) v.get("run.seed"),
            v.string("train.divergence"),
            v.integer("train.checkpoint-every"),
            v.integer("train.accumulation-steps"),
            WorkerTask.Hyperparameters.DEFAULT_WARMUP_STEPS));
  }

  private Path checkpointDir() {
    Path out = Path.of(output);
    return out.resolveSibling(out.getFileName() + ".checkpoints");
  }

  /**
   * One worker, {@link TrainingLoop}: the train split streamed ({@link StreamingBatches}, its
   * cursor saved in every checkpoint), validation over the small val split in memory. Empty when
   * {@code --stop-after} stopped it.
   */
  private Optional<TrainSummary> trainInProcess(Map<String, String> o, LocalRun local)
      throws IOException {
    // The student: pretrained (--student), a new Hugging Face family model (--student-config), or
    // our GPT of the configured size; its tokenizer is the one the labels were made with.
    LanguageModel model = student == null ? null : ModelSources.open(student);
    Tokenizer tok;
    // Cross-tokenizer KD (issue 15, ask 4): with a cross-tokenizer train.loss the labels' tokenizer
    // (--tokenizer, else the student's) may differ from the student's; null with train.loss = kd.
    CrossTokenizerBatches.Kind cross = crossTokenizerLoss(o);
    Tokenizer dataTok;
    try {
      tok = model != null ? model.tokenizer() : loadTokenizer(tokenizer);
      dataTok = model != null && tokenizer != null ? loadTokenizer(tokenizer) : tok;
      if (cross == null && !dataTok.sha256().equals(tok.sha256())) {
        throw new IllegalArgumentException(
            "student tokenizer "
                + tok.id()
                + " (sha256 "
                + tok.sha256()
                + ") differs from the teacher's "
                + dataTok.id()
                + " (sha256 "
                + dataTok.sha256()
                + "); set train.loss=uld or train.loss=span to distill across tokenizers");
      }
    } catch (IOException | RuntimeException e) {
      if (model != null) {
        model.close();
      }
      throw e;
    }
    Configuration hadoop = new Configuration();
    CuratedDataset valSet =
        CuratedDataset.read(curated, "val", dataTok.id(), dataTok.sha256(), hadoop);
    DistillationLoss loss =
        StudentRecipe.loss(
            Float.parseFloat(o.get("student.alpha")), valSet.temperature(), local.divergence());
    int steps = Integer.parseInt(o.get("student.steps"));
    int batch = Integer.parseInt(o.get("student.batch"));
    float lr = Float.parseFloat(o.get("student.lr"));
    long seed = Long.parseLong(o.get("run.seed"));
    // The schedule of the data-parallel trainer (DataParallelStudentTrainer), one worker.
    TrainConfig tc =
        StudentRecipe.schedule(steps, batch, lr, seed).toBuilder()
            .accumulationSteps(local.accumulationSteps())
            .concurrentMicroBatches(local.concurrentMicroBatches())
            .earlyStopping(local.patience(), local.minDelta())
            .build();
    GptConfig gpt =
        new GptConfig(
            tok.vocabSize(),
            Integer.parseInt(o.get("model.block-size")),
            Integer.parseInt(o.get("student.layers")),
            Integer.parseInt(o.get("student.heads")),
            Integer.parseInt(o.get("student.embd")),
            0f);
    CuratedStream.Options streamOptions = new CuratedStream.Options(4, 4, seed);
    OnPolicyConfig onPolicy = local.onPolicy();
    Map<String, String> runMeta = new LinkedHashMap<>(loss.metadata());
    if (onPolicy.enabled()) {
      runMeta.putAll(onPolicy.describe());
    }
    Checkpointing checkpointing =
        new Checkpointing(checkpointDir(), local.checkpointEvery(), 2, resume, runMeta);
    List<AutoCloseable> owned = new ArrayList<>();
    Path out = Path.of(output);
    // Progress for people (a bar on a terminal, periodic lines in a log) and metrics as JSON lines
    // next to the output, appended to when the run resumes.
    ProgressPrinter progress = ProgressPrinter.forStandardOutput("train");
    try (MetricsLog metrics =
            MetricsLog.append(out.resolveSibling(out.getFileName() + ".metrics.jsonl"), 10);
        LanguageModel lm = model != null ? model : newStudent(gpt, tok, seed);
        StreamingBatches streamed =
            cross != null
                ? null
                : new StreamingBatches(
                    c ->
                        CuratedStream.open(
                            curated, "train", tok.id(), tok.sha256(), hadoop, streamOptions, c),
                    batch,
                    loss,
                    lm.config().blockSize())) {
      BatchSource train = streamed;
      BatchSource val =
          new SoftLabelBatches(
              valSet.examples().stream().map(e -> e.cropped(lm.config().blockSize())).toList(),
              batch,
              loss);
      if (cross != null) {
        // In memory, drawn at random like the val split; the student reads its own tokens.
        List<Example> trainExamples =
            CuratedDataset.read(curated, "train", dataTok.id(), dataTok.sha256(), hadoop)
                .examples();
        CrossTokenizerBatches crossTrain =
            crossBatches(trainExamples, dataTok, tok, cross, o, valSet, batch, lm, local);
        train = crossTrain;
        val = crossBatches(valSet.examples(), dataTok, tok, cross, o, valSet, batch, lm, local);
        System.out.println("[train] " + crossTrain.description());
      }
      TrainResult r;
      int[] firstStep = {-1}; // the first step this process ran: > 1 when it resumed
      // On-policy (train.on-policy-fraction > 0): the streamed batches, a share of them replaced
      // by the student's samples scored by the teacher; otherwise the streamed batches as they are.
      OnPolicyBatches onPolicyBatches =
          onPolicy.enabled() ? onPolicyBatches(train, lm, valSet, onPolicy, seed, owned) : null;
      long loopStart = System.nanoTime();
      try {
        r =
            TrainingLoop.run(
                lm,
                onPolicyBatches != null ? onPolicyBatches : train,
                val,
                tc,
                (step, total, l, v, tps) -> {
                  if (firstStep[0] < 0) {
                    firstStep[0] = step;
                  }
                  progress.onStep(step, total, l, v, tps);
                  metrics.onStep(step, total, l, v, tps);
                  if (onPolicyBatches != null && (step % 10 == 0 || step == total)) {
                    OnPolicyBatches.Stats st = onPolicyBatches.stats();
                    double secs = (System.nanoTime() - loopStart) / 1e9;
                    metrics.onPolicy(
                        step,
                        st.onPolicyBatches(),
                        st.batches(),
                        st.teacherTokens(),
                        st.teacherTokensPerSecond(),
                        st.teacherWaitShare(secs));
                  }
                  if (stopAfter != null && step >= stopAfter && step < total) {
                    throw new Stopped();
                  }
                },
                checkpointing);
      } catch (Stopped e) {
        return Optional.empty();
      } finally {
        closeAll(owned);
      }
      double loopSeconds = (System.nanoTime() - loopStart) / 1e9;
      Map<String, String> meta = new LinkedHashMap<>(runMeta);
      meta.put("role", "student");
      meta.put("loss", loss.description());
      meta.put("training", "in-process, streamed train split, " + steps + " steps");
      if (cross != null) {
        meta.put("loss.cross-tokenizer", ((CrossTokenizerBatches) train).description());
      }
      if (streamed != null && streamed.cropped() > 0) {
        System.out.printf(
            Locale.ROOT,
            "[train] %d drawn examples were longer than the student's context (%d positions) and"
                + " were cut to it%n",
            streamed.cropped(),
            lm.config().blockSize());
      }
      Checkpoints.save(lm, out, meta);
      if (exportHf != null) {
        HfModels.export(lm, exportHf);
        System.out.println("[train] exported the student as a Hugging Face folder: " + exportHf);
      }
      // The loss conventions and the final losses next to the output, as the config is.
      TrainResult.CurvePoint last = r.curve().get(r.curve().size() - 1);
      StringBuilder sb = new StringBuilder("# the loss this training run used, and its end\n");
      meta.forEach((k, v) -> sb.append(k).append(" = ").append(v).append('\n'));
      // Steps before this process's first one came from a checkpoint (0: a fresh run).
      int resumedAt = firstStep[0] < 0 ? steps : firstStep[0] - 1;
      sb.append("resumed-at.step = ").append(resumedAt).append('\n');
      if (resumedAt > 0) {
        System.out.printf(
            Locale.ROOT, "[train] resumed at step %d from %s%n", resumedAt, checkpointDir());
      }
      sb.append("final.step = ").append(last.step()).append('\n');
      sb.append("final.train-loss = ").append(last.trainLoss()).append('\n');
      sb.append("final.val-loss = ").append(last.valLoss()).append('\n');
      // Early stopping (train.patience): the output holds the best pass's parameters.
      sb.append("best.step = ").append(r.bestStep()).append('\n');
      sb.append("best.val-loss = ").append(r.bestValLoss()).append('\n');
      sb.append("stopped-early-at.step = ").append(r.stoppedEarlyAt()).append('\n');
      if (onPolicyBatches != null) {
        String teacher =
            teacherCheckpoint != null
                ? "in-process teacher " + teacherCheckpoint
                : "HTTP teacher " + teacherUrl;
        onPolicySummary(onPolicyBatches, onPolicy, teacher, loopSeconds, sb);
      }
      if (r.stoppedEarly()) {
        System.out.printf(
            Locale.ROOT,
            "[train] stopped early at step %d (train.patience = %d); kept the parameters of step"
                + " %d, val loss %.4f%n",
            r.stoppedEarlyAt(),
            local.patience(),
            r.bestStep(),
            r.bestValLoss());
        metrics.earlyStop(r.stoppedEarlyAt(), r.bestStep(), r.bestValLoss());
      }
      Files.writeString(out.resolveSibling(out.getFileName() + ".loss.properties"), sb.toString());
      return Optional.of(
          new TrainSummary(
              0,
              r.stoppedEarly() ? r.stoppedEarlyAt() : steps,
              Math.round(r.tokensPerSecond() * r.seconds()),
              r.seconds(),
              r.finalValLoss(),
              0,
              0,
              0,
              output,
              "", // in this process: no worker to name
              null)); // TrainingLoop reports its own timing; no timed window here
    }
  }

  private static void closeAll(List<AutoCloseable> owned) {
    for (AutoCloseable c : owned) {
      try {
        c.close();
      } catch (Exception e) {
        System.err.println("[train] closing the on-policy teacher: " + e);
      }
    }
  }

  /** train.loss: null for kd, else the cross-tokenizer loss. */
  static CrossTokenizerBatches.Kind crossTokenizerLoss(Map<String, String> o) {
    String name = o.getOrDefault("train.loss", "kd").trim();
    if (name.equals("kd")) {
      return null;
    }
    try {
      return CrossTokenizerBatches.Kind.parse(name);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "train.loss: expected kd, uld, span, span-debiased or span-path, got " + name, e);
    }
  }

  private static CrossTokenizerBatches crossBatches(
      List<Example> examples,
      Tokenizer teacherTok,
      Tokenizer studentTok,
      CrossTokenizerBatches.Kind kind,
      Map<String, String> o,
      CuratedDataset labels,
      int batch,
      LanguageModel lm,
      LocalRun local) {
    return new CrossTokenizerBatches(
        examples,
        teacherTok,
        studentTok,
        kind,
        Float.parseFloat(o.get("student.alpha")),
        labels.temperature(),
        batch,
        lm.config().blockSize(),
        local.divergence());
  }

  private static Tokenizer loadTokenizer(Path path) throws IOException {
    if (Files.isDirectory(path)) {
      return Tokenizers.load(path);
    }
    return CharTokenizer.load(path);
  }

  /** {@code --student-config}'s Hugging Face family model, else our GPT of the configured size. */
  private LanguageModel newStudent(GptConfig gpt, Tokenizer tok, long seed) throws IOException {
    if (studentConfig == null) {
      return LanguageModel.create(gpt, tok, seed);
    }
    HfConfig config;
    try {
      config = HfConfig.parse(Files.readString(studentConfig));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(studentConfig + ": " + e.getMessage(), e);
    }
    return LanguageModel.create(new HfDecoder(config), tok, seed);
  }

  /** Thrown from the progress listener to stop a run as a kill would ({@code --stop-after}). */
  private static final class Stopped extends RuntimeException {
    Stopped() {
      super("stopped", null, false, false);
    }
  }

  /** The in-process settings, validated when built: an unknown divergence name fails here. */
  record LocalRun(
      Divergence divergence,
      int checkpointEvery,
      int accumulationSteps,
      int concurrentMicroBatches,
      int patience,
      float minDelta,
      OnPolicyConfig onPolicy) {
    /** From the typed keys, whose declarations ({@link ConfigKeys}) hold their ranges. */
    static LocalRun of(ConfigKeys.Values options) {
      Divergence d;
      try {
        d = Divergence.parse(options.string("train.divergence"));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("train.divergence: " + e.getMessage(), e);
      }
      return new LocalRun(
          d,
          options.integer("train.checkpoint-every"),
          options.integer("train.accumulation-steps"),
          options.integer("train.concurrent-micro-batches"),
          options.integer("train.patience"),
          options.number("train.min-delta"),
          OnPolicyConfig.of(
              options.number("train.on-policy-fraction"),
              options.number("train.on-policy-temperature"),
              options.integer("train.on-policy-max-tokens"),
              options.string("train.on-policy-divergence"),
              options.number("train.on-policy-beta"),
              options.string("train.on-policy-prompt-end"),
              options.string("train.on-policy-stop")));
    }
  }
}
