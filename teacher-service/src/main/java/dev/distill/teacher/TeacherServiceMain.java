package dev.distill.teacher;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.models.tokenizer.Tokenizer;
import dev.distill.models.tokenizer.Tokenizers;
import dev.distill.teacher.http.ServerConfig;
import dev.distill.teacher.http.TeacherHttpServer;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.RationaleConfig;
import dev.distill.teacher.inference.Teacher;
import dev.distill.teacher.inference.TeacherIdentity;
import dev.distill.teacher.inference.TeacherSources;
import dev.distill.teacher.inference.TorchScriptTeacher;
import dev.distill.teacher.io.JsonlPrompts;
import dev.distill.teacher.io.ParquetOutputSink;
import dev.distill.teacher.io.ParquetPrompts;
import dev.distill.teacher.kafka.KafkaOutputSink;
import dev.distill.teacher.kafka.PromptServiceLoop;
import dev.distill.teacher.kafka.ServiceConfig;
import dev.distill.teacher.kafka.Topics;
import dev.distill.teacher.kafka.TransactionPerBatch;
import dev.distill.teacher.labeling.BatchRun;
import dev.distill.teacher.labeling.LabelModeOptions;
import dev.distill.teacher.labeling.OutputSink;
import dev.distill.teacher.labeling.PromptLabeler;
import dev.distill.teacher.labeling.TeeSink;
import dev.distill.teacher.remote.RemoteTeacher;
import dev.distill.teacher.remote.RemoteTeacherConfig;
import dev.distill.teacher.service.TeacherMetrics;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The teacher service's entry point: {@code serve} (HTTP API and/or the Kafka consume-transform-
 * produce loop) and {@code batch} (JSONL prompts to Parquet). Topic names and paths live here and
 * nowhere else in the module. Secrets (the HTTP bearer token, the remote API key) are read from
 * environment variables named on the command line, never from arguments, which other users can see
 * in the process list. Exit codes: 0 ok, 1 failure, 2 usage.
 */
@Command(
    name = "teacher-service",
    mixinStandardHelpOptions = true,
    subcommands = {TeacherServiceMain.Serve.class, TeacherServiceMain.Batch.class},
    description = "Soft labels from a teacher: HTTP API, Kafka service mode, batch mode.")
public final class TeacherServiceMain {

  /** Which teacher: an in-process checkpoint or a remote OpenAI-compatible endpoint. */
  static final class TeacherOptions {
    @Option(
        names = "--teacher",
        description =
            "in-process teacher: hf:FOLDER (Hugging Face config.json, *.safetensors, tokenizer"
                + " files) or a folder holding one of our checkpoints or a Hugging Face model")
    String teacherSpec;

    @Option(
        names = "--checkpoint",
        description = "teacher checkpoint folder (models format, or a Hugging Face folder)")
    Path checkpoint;

    @Option(
        names = "--torchscript",
        description = "folder with model.pt (TorchScript causal LM) and tokenizer.json (HF)")
    Path torchscript;

    @Option(
        names = "--context-tokens",
        defaultValue = "1024",
        description = "context length of the TorchScript model (default ${DEFAULT-VALUE})")
    int contextTokens;

    @Option(names = "--remote-url", description = "OpenAI-compatible endpoint, e.g. http://h:8000")
    URI remoteUrl;

    @Option(names = "--remote-model", description = "model name sent to the remote endpoint")
    String remoteModel;

    @Option(
        names = "--remote-api-key-env",
        description = "environment variable holding the remote API key")
    String remoteApiKeyEnv;

    @Option(
        names = "--remote-temperature",
        defaultValue = "1.0",
        description = "temperature of the remote log-probabilities (default ${DEFAULT-VALUE})")
    float remoteTemperature;

    @Option(
        names = "--remote-concurrency",
        defaultValue = "8",
        description = "remote requests in flight (default ${DEFAULT-VALUE})")
    int remoteConcurrency;

    @Option(
        names = "--tokenizer",
        description =
            "the remote teacher's tokenizer: a folder (tokenizer.json of either kind, with"
                + " tokenizer_config.json etc.) or a char tokenizer file")
    Path tokenizer;

    @Option(
        names = "--teacher-id",
        description =
            "teacher id (default: for a checkpoint the name stored in it, else gpt- and its"
                + " parameters' sha256 prefix, as the demo records it; for a Hugging Face folder"
                + " its model_type and sha256 prefix; else teacher)")
    String teacherId;

    /** The given id, else the checkpoint's own (so every command records one identity). */
    String resolvedTeacherId() throws java.io.IOException {
      if (teacherId != null) {
        return teacherId;
      }
      return checkpoint != null ? TeacherIdentity.teacherIdOf(checkpoint) : "teacher";
    }

    @Option(names = "--top-k", defaultValue = "8", description = "k (default ${DEFAULT-VALUE})")
    int topK;

    @Option(
        names = "--temperature",
        defaultValue = "2.0",
        description = "T (default ${DEFAULT-VALUE})")
    float temperature;

    @Option(names = "--batch-size", defaultValue = "64", description = "sequences per forward")
    int batchSize;

    /** The remote API key, read by {@link #readSecrets} before anything starts. */
    private String remoteApiKey;

    /** Reads the secrets named on the command line; an unset or empty variable refuses to start. */
    void readSecrets(CommandLine cmd) {
      remoteApiKey = secret(cmd, "--remote-api-key-env", remoteApiKeyEnv);
    }

    Teacher open() throws Exception {
      int given =
          (teacherSpec != null ? 1 : 0)
              + (checkpoint != null ? 1 : 0)
              + (torchscript != null ? 1 : 0)
              + (remoteUrl != null ? 1 : 0);
      if (given != 1) {
        throw new CommandLine.ParameterException(
            new CommandLine(new TeacherServiceMain()),
            "give exactly one of --teacher, --checkpoint, --torchscript and --remote-url");
      }
      if (torchscript != null) {
        return new TorchScriptTeacher(
            resolvedTeacherId(),
            torchscript,
            new LabelingConfig(topK, temperature, batchSize),
            contextTokens);
      }
      if (teacherSpec != null || checkpoint != null) {
        return TeacherSources.open(
            teacherSpec != null ? teacherSpec : checkpoint.toString(),
            teacherId,
            new LabelingConfig(topK, temperature, batchSize));
      }
      if (tokenizer == null || remoteModel == null) {
        throw new CommandLine.ParameterException(
            new CommandLine(new TeacherServiceMain()),
            "--remote-url needs --remote-model and --tokenizer");
      }
      return new RemoteTeacher(
          new RemoteTeacherConfig(
              remoteUrl,
              remoteModel,
              remoteApiKey,
              topK,
              temperature,
              remoteTemperature,
              4097,
              remoteConcurrency,
              Duration.ofSeconds(5),
              Duration.ofSeconds(60),
              3,
              Duration.ofMillis(200)),
          remoteTokenizer(tokenizer));
    }

    /** A folder (either kind, by its tokenizer.json), or a char tokenizer file. */
    static Tokenizer remoteTokenizer(Path path) throws IOException {
      if (Files.isDirectory(path)) {
        return Tokenizers.load(path);
      }
      if (path.getFileName().toString().equals(Tokenizers.TOKENIZER_FILE)) {
        return Tokenizers.load(path.toAbsolutePath().getParent());
      }
      return CharTokenizer.load(path);
    }
  }

  /** Chunking and limits shared by both modes. */
  static final class LimitOptions {
    @Option(
        names = "--chunk-positions",
        defaultValue = "1024",
        description = "positions per record")
    int chunkPositions;

    @Option(names = "--max-prompt-tokens", defaultValue = "65536", description = "longer: DLQ")
    int maxPromptTokens;

    @Option(names = "--token-budget", defaultValue = "4096", description = "tokens per batch")
    int tokenBudget;
  }

  /** Rationale sampling for prompts that ask for it ({@code numRationales} > 0); off by default. */
  static final class RationaleOptions {
    @Option(
        names = "--rationales-max",
        defaultValue = "0",
        description = "most rationales a prompt may ask for (0: prompts asking go to the DLQ)")
    int max;

    @Option(
        names = "--rationale-template",
        defaultValue = "%s",
        description = "prompt template, %%s = the prompt text (default ${DEFAULT-VALUE})")
    String template;

    @Option(
        names = "--rationale-temperature",
        defaultValue = "0.8",
        description = "sampling temperature (default ${DEFAULT-VALUE})")
    float temperature;

    @Option(
        names = "--rationale-max-tokens",
        defaultValue = "128",
        description = "most new tokens per rationale (default ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(
        names = "--rationale-answer-pattern",
        defaultValue = "answer: *(\\S+)",
        description = "regex, group 1 = the answer; stops generation (default ${DEFAULT-VALUE})")
    String answerPattern;

    /** Null when rationales are off (also when picocli left the group null). */
    static RationaleConfig config(RationaleOptions o) {
      return o == null ? null : o.config();
    }

    RationaleConfig config() {
      return max == 0
          ? null
          : new RationaleConfig(
              max, temperature, maxTokens, Pattern.compile(answerPattern), template);
    }

    void describe(JsonObject c) {
      c.addProperty("rationales_max", max);
      c.addProperty("rationale_template", template);
      c.addProperty("rationale_temperature", temperature);
      c.addProperty("rationale_max_tokens", maxTokens);
      c.addProperty("rationale_answer_pattern", answerPattern);
    }
  }

  /**
   * The teacher, its limits and its rationale sampling: declared once, mixed into {@code serve} and
   * {@code batch} (issue 17: the two used to repeat these blocks).
   */
  static final class TeacherMixin {
    @ArgGroup(exclusive = false, multiplicity = "1")
    TeacherOptions teacher = new TeacherOptions();

    @ArgGroup(exclusive = false)
    LimitOptions limits = new LimitOptions();

    @ArgGroup(exclusive = false)
    RationaleOptions rationales = new RationaleOptions();

    /** The limits; picocli leaves a group null when none of its options is given. */
    LimitOptions limits() {
      return limits == null ? new LimitOptions() : limits;
    }

    RationaleOptions rationales() {
      return rationales == null ? new RationaleOptions() : rationales;
    }

    /** Null when rationales are off. */
    RationaleConfig rationaleConfig() {
      return RationaleOptions.config(rationales);
    }
  }

  /** Where records go in Kafka: declared once for {@code serve} and {@code batch}. */
  static final class KafkaMixin {
    @Option(
        names = "--bootstrap-servers",
        description =
            "Kafka brokers; serve: consume prompts from them (absent: no Kafka); batch: also (or,"
                + " without --output, only) produce the records to them")
    String bootstrapServers;

    @Option(
        names = "--outputs-topic",
        defaultValue = "distill.teacher-outputs",
        description = "topic of the records (default ${DEFAULT-VALUE})")
    String outputsTopic;

    @Option(
        names = "--transactional-id",
        description =
            "producer transactional id; serve: unique per instance (default random); batch:"
                + " default distill-label-<run-id>, so a re-run of a run fences a stale producer")
    String transactionalId;

    @Option(
        names = "--kafka-property",
        description =
            "client property k=v, repeatable (SASL/SSL settings pass through here); serve:"
                + " consumer./producer. prefix for one client")
    Map<String, String> properties = new LinkedHashMap<>();
  }

  @Command(
      name = "serve",
      mixinStandardHelpOptions = true,
      description = "Serve the HTTP API and/or consume prompts from Kafka until SIGTERM.")
  static final class Serve implements Callable<Integer> {
    /** Longest wait for the Kafka loop to finish its batch after a stop. */
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Mixin TeacherMixin model;

    @Mixin KafkaMixin broker;

    @Option(names = "--http-host", defaultValue = "127.0.0.1", description = "bind address")
    String httpHost;

    @Option(names = "--http-port", defaultValue = "-1", description = "HTTP port (-1: no HTTP)")
    int httpPort;

    @Option(
        names = "--http-token-env",
        description = "environment variable holding the bearer token (required off loopback)")
    String httpTokenEnv;

    @Option(names = "--group-id", defaultValue = "distill-teacher", description = "consumer group")
    String groupId;

    @Option(names = "--prompts-topic", defaultValue = "distill.prompts")
    String promptsTopic;

    @Option(names = "--dlq-topic", defaultValue = "distill.prompts.dlq")
    String dlqTopic;

    @Option(names = "--max-wait-ms", defaultValue = "20", description = "batch fill wait")
    long maxWaitMs;

    @Option(names = "--retries", defaultValue = "3", description = "teacher retries, then DLQ")
    int retries;

    @Override
    public Integer call() throws Exception {
      if (httpPort < 0 && broker.bootstrapServers == null) {
        throw new CommandLine.ParameterException(
            spec.commandLine(), "nothing to serve: give --http-port and/or --bootstrap-servers");
      }
      // Secrets first: a named variable that is unset never means "no auth".
      String token = secret(spec.commandLine(), "--http-token-env", httpTokenEnv);
      model.teacher.readSecrets(spec.commandLine());
      LimitOptions lim = model.limits();
      TeacherMetrics metrics = new TeacherMetrics();
      ServeLifecycle life = null;
      try (Teacher t = model.teacher.open()) {
        life =
            new ServeLifecycle(
                httpPort >= 0 ? httpServer(token, lim, t, metrics) : null,
                broker.bootstrapServers != null ? serviceLoop(lim, t, metrics) : null,
                STOP_TIMEOUT,
                System.out);
        life.start();
        // SIGTERM / Ctrl-C: finish the current batch (its transaction), stop HTTP, then exit.
        Runtime.getRuntime().addShutdownHook(life.shutdownHook());
        return life.awaitStop();
      } finally {
        if (life != null) {
          life.finished();
        }
      }
    }

    private TeacherHttpServer httpServer(
        String token, LimitOptions lim, Teacher t, TeacherMetrics metrics) throws IOException {
      return new TeacherHttpServer(
          ServerConfig.builder()
              .optHost(httpHost)
              .optPort(httpPort)
              .optBearerToken(token)
              .optTokenBudget(lim.tokenBudget)
              .build(),
          t,
          metrics);
    }

    private ServeLifecycle.Loop serviceLoop(LimitOptions lim, Teacher t, TeacherMetrics metrics) {
      PromptServiceLoop loop =
          new PromptServiceLoop(
              new ServiceConfig(
                  broker.bootstrapServers,
                  groupId,
                  broker.transactionalId != null
                      ? broker.transactionalId
                      : "distill-teacher-" + UUID.randomUUID(),
                  promptsTopic,
                  broker.outputsTopic,
                  dlqTopic,
                  lim.tokenBudget,
                  Duration.ofMillis(maxWaitMs),
                  lim.chunkPositions,
                  lim.maxPromptTokens,
                  retries,
                  Duration.ofMillis(100),
                  broker.properties),
              new PromptLabeler(
                  t, lim.chunkPositions, lim.maxPromptTokens, model.rationaleConfig()),
              metrics);
      return ServeLifecycle.Loop.of(loop::run, loop::requestStop);
    }
  }

  @Command(
      name = "batch",
      mixinStandardHelpOptions = true,
      description = {
        "Label JSONL prompts into Parquet (rolling files, _SUCCESS, re-run replaces) and/or,"
            + " with --bootstrap-servers, into a Kafka topic (transactional, one transaction per"
            + " teacher batch; read it with isolation.level=read_committed)."
      })
  static final class Batch implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Mixin TeacherMixin model;

    @Mixin KafkaMixin broker;

    @Mixin LabelModeOptions labelMode;

    @Option(
        names = "--input",
        required = true,
        description = "prompts: *.jsonl (JSON Lines), else a Parquet file or folder")
    Path input;

    @Option(
        names = "--output",
        description = "output folder (replaced); optional when --bootstrap-servers is given")
    String output;

    @Option(
        names = "--create-topic",
        description =
            "create --outputs-topic when missing (--topic-partitions, --topic-replication)")
    boolean createTopic;

    @Option(names = "--topic-partitions", defaultValue = "6", description = "with --create-topic")
    int topicPartitions;

    @Option(names = "--topic-replication", defaultValue = "3", description = "with --create-topic")
    short topicReplication;

    @Option(names = "--run-id", required = true, description = "run id recorded in every record")
    String runId;

    @Option(names = "--source", defaultValue = "batch", description = "default source name")
    String source;

    @Option(names = "--records-per-file", defaultValue = "100000", description = "rolling size")
    int recordsPerFile;

    @Option(
        names = "--rationales",
        defaultValue = "0",
        description =
            "rationales per prompt when the input does not say (num_rationales); needs"
                + " --rationales-max (default ${DEFAULT-VALUE})")
    int defaultRationales;

    @Override
    public Integer call() throws Exception {
      LimitOptions lim = model.limits();
      model.teacher.readSecrets(spec.commandLine());
      if (!java.nio.file.Files.exists(input)) {
        throw new CommandLine.ParameterException(
            spec.commandLine(), "--input " + input + ": no such file or folder");
      }
      // JSON Lines by extension; anything else (a .parquet file or a folder) is read as Parquet.
      JsonlPrompts.Read read =
          input.toString().endsWith(".jsonl")
              ? JsonlPrompts.read(input, runId, source, defaultRationales)
              : ParquetPrompts.read(input.toString(), runId, source, defaultRationales);
      if (output == null && broker.bootstrapServers == null) {
        throw new CommandLine.ParameterException(
            spec.commandLine(), "nowhere to write: give --output and/or --bootstrap-servers");
      }
      if (broker.bootstrapServers != null && createTopic) {
        try {
          Topics.ensure(
              broker.bootstrapServers,
              broker.properties,
              broker.outputsTopic,
              topicPartitions,
              topicReplication);
        } catch (Topics.ReplicationFactorTooHigh e) {
          int fit = e.brokers() > 0 ? e.brokers() : 1;
          throw new IllegalStateException(
              e.getMessage()
                  + "; give --topic-replication "
                  + fit
                  + " (at most the number of brokers)"
                  + " or create the topic yourself",
              e);
        }
      }
      ParquetOutputSink parquet = null;
      TransactionPerBatch kafka = null;
      List<OutputSink> sinks = new ArrayList<>();
      try {
        if (output != null) {
          parquet = new ParquetOutputSink(output, recordsPerFile);
          sinks.add(parquet);
        }
        if (broker.bootstrapServers != null) {
          kafka =
              new TransactionPerBatch(
                  new KafkaOutputSink(
                      broker.bootstrapServers,
                      broker.outputsTopic,
                      broker.transactionalId != null
                          ? broker.transactionalId
                          : "distill-label-" + runId,
                      broker.properties));
          sinks.add(kafka);
        }
      } catch (RuntimeException e) {
        for (OutputSink o : sinks) {
          o.close();
        }
        throw e;
      }
      try (Teacher t = labelMode.apply(model.teacher.open());
          TeeSink sink = new TeeSink(sinks)) {
        BatchRun.Summary s =
            labelMode
                .batchRun(
                    new PromptLabeler(
                        t, lim.chunkPositions, lim.maxPromptTokens, model.rationaleConfig()),
                    lim.tokenBudget,
                    t)
                .run(read.prompts(), sink);
        StringBuilder rej = new StringBuilder();
        for (JsonlPrompts.Rejected r : read.rejected()) {
          rej.append(rejectLine(r.promptId(), r.why().reason().name(), r.why().detail()));
        }
        for (BatchRun.Rejected r : s.rejected()) {
          rej.append(rejectLine(r.promptId(), r.why().reason().name(), r.why().detail()));
        }
        if (parquet != null) {
          // The config and the rejects are published with the data, in the same atomic commit.
          parquet.writeSideFile(
              "_config.json",
              config(lim, t.provenance().getTeacherId().toString())
                  .getBytes(StandardCharsets.UTF_8));
          parquet.writeSideFile("_rejects.jsonl", rej.toString().getBytes(StandardCharsets.UTF_8));
        } else {
          // Kafka only: the config and the rejects go to the log (the task's log in Airflow).
          System.out.println(config(lim, t.provenance().getTeacherId().toString()));
          System.out.print(rej);
        }
        sink.commit();
        if (kafka != null) {
          System.out.printf(
              "produced %d records to %s in committed transactions%n",
              kafka.sent(), broker.outputsTopic);
        }
        Map<PromptLabeler.Reason, Integer> byReason = new EnumMap<>(PromptLabeler.Reason.class);
        byReason.putAll(s.rejectedByReason());
        for (JsonlPrompts.Rejected r : read.rejected()) {
          byReason.merge(r.why().reason(), 1, Integer::sum);
        }
        System.out.printf(
            "labelled %d prompts into %d records (%d positions, %.2f bytes/token); rejected %d"
                + " (%d at reading the input, %s)%n",
            s.prompts(),
            s.records(),
            s.positions(),
            s.positions() == 0 ? 0.0 : (double) s.softLabelBytes() / s.positions(),
            s.rejected().size() + read.rejected().size(),
            read.rejected().size(),
            byReason);
      }
      return 0;
    }

    private String config(LimitOptions lim, String teacherId) {
      JsonObject c = new JsonObject();
      c.addProperty("input", input.toString());
      c.addProperty("output", String.valueOf(output));
      c.addProperty("bootstrap_servers", String.valueOf(broker.bootstrapServers));
      c.addProperty(
          "outputs_topic", broker.bootstrapServers == null ? "null" : broker.outputsTopic);
      c.addProperty("run_id", runId);
      c.addProperty("source", source);
      c.addProperty("records_per_file", recordsPerFile);
      c.addProperty("rationales", defaultRationales);
      c.addProperty("teacher", String.valueOf(model.teacher.teacherSpec));
      c.addProperty("checkpoint", String.valueOf(model.teacher.checkpoint));
      c.addProperty("torchscript", String.valueOf(model.teacher.torchscript));
      c.addProperty("context_tokens", model.teacher.contextTokens);
      c.addProperty("remote_url", String.valueOf(model.teacher.remoteUrl));
      c.addProperty("remote_model", model.teacher.remoteModel);
      c.addProperty("remote_temperature", model.teacher.remoteTemperature);
      c.addProperty("teacher_id", teacherId);
      c.addProperty("top_k", model.teacher.topK);
      c.addProperty("temperature", model.teacher.temperature);
      c.addProperty("batch_size", model.teacher.batchSize);
      c.addProperty("chunk_positions", lim.chunkPositions);
      c.addProperty("max_prompt_tokens", lim.maxPromptTokens);
      c.addProperty("token_budget", lim.tokenBudget);
      model.rationales().describe(c);
      labelMode.describe(c);
      return new GsonBuilder().setPrettyPrinting().create().toJson(c);
    }

    private static String rejectLine(String id, String reason, String detail) {
      JsonObject o = new JsonObject();
      o.addProperty("prompt_id", id);
      o.addProperty("reason", reason);
      o.addProperty("detail", detail);
      return o + "\n";
    }
  }

  /** {@link SecretEnv#read} from the process environment, as a usage error naming the option. */
  static String secret(CommandLine cmd, String option, String variable) {
    try {
      return SecretEnv.read(option, variable, System::getenv);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(cmd, e.getMessage());
    }
  }

  public static int execute(String... args) {
    return new CommandLine(new TeacherServiceMain()).execute(args);
  }

  public static void main(String[] args) {
    System.exit(execute(args));
  }
}
