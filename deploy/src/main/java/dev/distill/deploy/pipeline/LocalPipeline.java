package dev.distill.deploy.pipeline;

import dev.distill.deploy.kafka.EmbeddedKafka;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.teacher.kafka.Topics;
import dev.distill.teacher.labeling.TextPrompt;
import dev.distill.trainer.training.TrainConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.commons.codec.digest.DigestUtils;
import org.apache.commons.io.file.PathUtils;

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

  /**
   * Runs every stage and returns the path of report.json: Kafka, then each workload's stages
   * (teacher, label, ingest, curate, train), then the evaluation and report. Each stage's wall
   * seconds and peak RSS go to the console and to report.json's {@code stages}.
   */
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
    StageClock clock = new StageClock(out);
    boolean needsKafka = config.runs(DemoConfig.CHAR) || config.runs(DemoConfig.BPE);
    try (EmbeddedKafka broker =
        needsKafka && config.bootstrapServers() == null
            ? clock.time("kafka", () -> startBroker(runDir))
            : null) {
      String bootstrap = broker == null ? config.bootstrapServers() : broker.bootstrapServers();
      if (needsKafka) {
        out.println("[kafka] bootstrap servers " + bootstrap + ", topic " + config.topic());
        Topics.ensure(bootstrap, Map.of(), config.topic(), 2, (short) 1);
      }
      CharWorkload.CharResult chars =
          config.runs(DemoConfig.CHAR)
              ? new CharWorkload(config, clock, out).run(runDir, bootstrap, tokenizer, splits)
              : CharWorkload.CharResult.NONE;
      SubwordStage.SubwordResult subword =
          config.runs(DemoConfig.BPE)
              ? new SubwordStage(config, clock, out).run(runDir, bootstrap)
              : null;
      ArithmeticStage.ArithmeticResult arithmetic =
          config.runs(DemoConfig.ARITHMETIC)
              ? new ArithmeticStage(config, clock, out).run(runDir)
              : null;
      new PipelineFacts(
              chars.softLabels(),
              chars.curation(),
              chars.compression(),
              chars.losses(),
              subword,
              arithmetic,
              clock.seconds(),
              clock.times())
          .write(runDir);
      lastResult = RunReport.write(runDir, config, splits.heldOut(), gates, t0, out);
      if (broker != null) {
        out.println("[kafka] stopping the broker");
      }
      return lastResult.reportJson();
    }
  }

  private EmbeddedKafka startBroker(Path runDir) throws IOException {
    out.println("[kafka] starting a single-node KRaft broker (Kafka 3.9.2) on loopback");
    return EmbeddedKafka.start(runDir.resolve("kafka"), Duration.ofSeconds(90));
  }

  /** A student's training recipe: warm-up a twentieth, evaluation every fifth of the steps. */
  static TrainConfig studentTrainConfig(DemoConfig config, int steps, int batch) {
    return TrainStage.recipe(
        steps, batch, config.studentLr(), config.studentLr() / 10, 20, 5, 4, config.seed());
  }

  /** Evenly spaced windows of blockSize + 1 tokens, as prompts named SOURCE@START. */
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

  static double round(double v, int digits) {
    double f = Math.pow(10, digits);
    return Math.round(v * f) / f;
  }

  private static double secondsSince(long t) {
    return (System.nanoTime() - t) / 1e9;
  }

  static String sha256(String s) {
    return DigestUtils.sha256Hex(s);
  }

  static String sha256Bytes(byte[] b) {
    return DigestUtils.sha256Hex(b);
  }

  static void deleteRecursively(Path p) throws IOException {
    if (Files.exists(p)) {
      PathUtils.deleteDirectory(p);
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
