package dev.distill.deploy.pipeline;

import dev.distill.deploy.config.ConfigKeys;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * Everything the embedded default runs with. Built from defaults, then a config file, then
 * command-line overrides; an unknown key fails. The full map is written next to the outputs.
 *
 * <p>The defaults are nanoGPT's CPU "baby GPT" for the teacher (4 layers, 4 heads, 128 wide,
 * context 64) and a student with about 1/8 of its parameters (2 layers, 64 wide).
 */
public record DemoConfig(
    String runId,
    String runsDir,
    String cacheDir,
    boolean quick,
    String bootstrapServers,
    String topic,
    String sparkMaster,
    long seed,
    int blockSize,
    int teacherLayers,
    int teacherHeads,
    int teacherEmbd,
    int teacherSteps,
    int teacherBatch,
    float teacherLr,
    int topK,
    float temperature,
    int trainWindows,
    int valWindows,
    int labelBatch,
    double curateValFraction,
    int studentLayers,
    int studentHeads,
    int studentEmbd,
    int studentSteps,
    int studentBatch,
    float studentLr,
    float alpha,
    int evalWindows,
    ArithmeticConfig arithmetic,
    List<String> workloads,
    SubwordConfig subword) {

  /** The char-level GPT workload (the seed paper's setting). */
  public static final String CHAR = "shakespeare-char";

  /** The BPE + Llama-family workload. */
  public static final String BPE = "shakespeare-bpe";

  /** The arithmetic chain-of-thought workload. */
  public static final String ARITHMETIC = "arithmetic";

  /** Every workload name, in run order. */
  public static final List<String> WORKLOADS = List.of(CHAR, BPE, ARITHMETIC);

  public DemoConfig {
    workloads = List.copyOf(workloads);
    if (workloads.isEmpty()) {
      throw new IllegalArgumentException("run.workloads is empty; choose from " + WORKLOADS);
    }
    for (String w : workloads) {
      if (!WORKLOADS.contains(w)) {
        throw new IllegalArgumentException(
            "run.workloads: unknown workload '" + w + "'; known: " + WORKLOADS);
      }
    }
    if (workloads.stream().distinct().count() != workloads.size()) {
      throw new IllegalArgumentException("run.workloads names a workload twice: " + workloads);
    }
    // The evaluation report is built around a text workload's teacher (its main table); an
    // arithmetic-only run used to train for minutes and then fail there.
    if (!workloads.contains(CHAR) && !workloads.contains(BPE)) {
      throw new IllegalArgumentException(
          "run.workloads: "
              + workloads
              + " has no text workload, and the report needs one: add "
              + BPE
              + " or "
              + CHAR
              + " (e.g. --workload "
              + BPE
              + " --workload "
              + ARITHMETIC
              + ")");
    }
  }

  /**
   * Defaults for the full demo, or for {@code --quick} (toy sizes, same stages): every declared key
   * ({@link ConfigKeys}), including those of other commands, so one set of conf files serves all.
   */
  public static Map<String, String> defaults(boolean quick) {
    return ConfigKeys.defaults(quick);
  }

  /**
   * One record component bound to its declared key ({@link ConfigKeys}): {@link #from} sets it from
   * the parsed value, {@link #toMap} prints it with the key's type, so neither repeats the key list
   * nor its parsing.
   */
  private record Binding<T>(String key, Function<DemoConfig, T> get, BiConsumer<Builder, T> set) {
    @SuppressWarnings("unchecked")
    void apply(Builder b, ConfigKeys.Values values) {
      set.accept(b, (T) values.get(key));
    }
  }

  private static <T> Binding<T> bind(
      String key, Function<DemoConfig, T> get, BiConsumer<Builder, T> set) {
    return new Binding<>(key, get, set);
  }

  /** The keys this record holds, in any order ({@link #toMap} follows the declarations). */
  private static final Map<String, Binding<?>> BINDINGS =
      bindings(
          bind("run.id", DemoConfig::runId, (b, v) -> b.runId = v),
          bind("run.dir", DemoConfig::runsDir, (b, v) -> b.runsDir = v),
          bind("run.cache-dir", DemoConfig::cacheDir, (b, v) -> b.cacheDir = v),
          bind("run.quick", DemoConfig::quick, (b, v) -> b.quick = v),
          bind("run.seed", DemoConfig::seed, (b, v) -> b.seed = v),
          bind(
              "kafka.bootstrap-servers",
              c -> c.bootstrapServers() == null ? "" : c.bootstrapServers(),
              (b, v) -> b.bootstrapServers = v.isEmpty() ? null : v),
          bind("kafka.topic", DemoConfig::topic, (b, v) -> b.topic = v),
          bind("spark.master", DemoConfig::sparkMaster, (b, v) -> b.sparkMaster = v),
          bind("run.workloads", DemoConfig::workloads, (b, v) -> b.workloads = v),
          bind("model.block-size", DemoConfig::blockSize, (b, v) -> b.blockSize = v),
          bind("teacher.layers", DemoConfig::teacherLayers, (b, v) -> b.teacherLayers = v),
          bind("teacher.heads", DemoConfig::teacherHeads, (b, v) -> b.teacherHeads = v),
          bind("teacher.embd", DemoConfig::teacherEmbd, (b, v) -> b.teacherEmbd = v),
          bind("teacher.steps", DemoConfig::teacherSteps, (b, v) -> b.teacherSteps = v),
          bind("teacher.batch", DemoConfig::teacherBatch, (b, v) -> b.teacherBatch = v),
          bind("teacher.lr", DemoConfig::teacherLr, (b, v) -> b.teacherLr = v),
          bind("label.top-k", DemoConfig::topK, (b, v) -> b.topK = v),
          bind("label.temperature", DemoConfig::temperature, (b, v) -> b.temperature = v),
          bind("label.train-windows", DemoConfig::trainWindows, (b, v) -> b.trainWindows = v),
          bind("label.val-windows", DemoConfig::valWindows, (b, v) -> b.valWindows = v),
          bind("label.batch", DemoConfig::labelBatch, (b, v) -> b.labelBatch = v),
          bind(
              "curate.val-fraction",
              DemoConfig::curateValFraction,
              (b, v) -> b.curateValFraction = v),
          bind("student.layers", DemoConfig::studentLayers, (b, v) -> b.studentLayers = v),
          bind("student.heads", DemoConfig::studentHeads, (b, v) -> b.studentHeads = v),
          bind("student.embd", DemoConfig::studentEmbd, (b, v) -> b.studentEmbd = v),
          bind("student.steps", DemoConfig::studentSteps, (b, v) -> b.studentSteps = v),
          bind("student.batch", DemoConfig::studentBatch, (b, v) -> b.studentBatch = v),
          bind("student.lr", DemoConfig::studentLr, (b, v) -> b.studentLr = v),
          bind("student.alpha", DemoConfig::alpha, (b, v) -> b.alpha = v),
          bind("eval.windows", DemoConfig::evalWindows, (b, v) -> b.evalWindows = v),
          bind("arith.enabled", c -> c.arithmetic().enabled(), (b, v) -> b.arithmetic.enabled = v),
          bind(
              "arith.train-problems",
              c -> c.arithmetic().trainProblems(),
              (b, v) -> b.arithmetic.trainProblems = v),
          bind(
              "arith.block-size",
              c -> c.arithmetic().blockSize(),
              (b, v) -> b.arithmetic.blockSize = v),
          bind(
              "arith.teacher-steps",
              c -> c.arithmetic().teacherSteps(),
              (b, v) -> b.arithmetic.teacherSteps = v),
          bind(
              "arith.teacher-batch",
              c -> c.arithmetic().teacherBatch(),
              (b, v) -> b.arithmetic.teacherBatch = v),
          bind(
              "arith.labelled-problems",
              c -> c.arithmetic().labelledProblems(),
              (b, v) -> b.arithmetic.labelledProblems = v),
          bind(
              "arith.rationales",
              c -> c.arithmetic().rationales(),
              (b, v) -> b.arithmetic.rationales = v),
          bind(
              "arith.sample-temperature",
              c -> c.arithmetic().sampleTemperature(),
              (b, v) -> b.arithmetic.sampleTemperature = v),
          bind(
              "arith.require-gold",
              c -> c.arithmetic().requireGold(),
              (b, v) -> b.arithmetic.requireGold = v),
          bind(
              "arith.student-layers",
              c -> c.arithmetic().studentLayers(),
              (b, v) -> b.arithmetic.studentLayers = v),
          bind(
              "arith.student-heads",
              c -> c.arithmetic().studentHeads(),
              (b, v) -> b.arithmetic.studentHeads = v),
          bind(
              "arith.student-embd",
              c -> c.arithmetic().studentEmbd(),
              (b, v) -> b.arithmetic.studentEmbd = v),
          bind(
              "arith.student-steps",
              c -> c.arithmetic().studentSteps(),
              (b, v) -> b.arithmetic.studentSteps = v),
          bind(
              "arith.student-batch",
              c -> c.arithmetic().studentBatch(),
              (b, v) -> b.arithmetic.studentBatch = v),
          bind(
              "arith.eval-problems",
              c -> c.arithmetic().evalProblems(),
              (b, v) -> b.arithmetic.evalProblems = v),
          bind(
              "subword.block-size",
              c -> c.subword().blockSize(),
              (b, v) -> b.subword.blockSize = v),
          bind(
              "subword.teacher-layers",
              c -> c.subword().teacherLayers(),
              (b, v) -> b.subword.teacherLayers = v),
          bind(
              "subword.teacher-heads",
              c -> c.subword().teacherHeads(),
              (b, v) -> b.subword.teacherHeads = v),
          bind(
              "subword.teacher-kv-heads",
              c -> c.subword().teacherKvHeads(),
              (b, v) -> b.subword.teacherKvHeads = v),
          bind(
              "subword.teacher-hidden",
              c -> c.subword().teacherHidden(),
              (b, v) -> b.subword.teacherHidden = v),
          bind(
              "subword.teacher-intermediate",
              c -> c.subword().teacherIntermediate(),
              (b, v) -> b.subword.teacherIntermediate = v),
          bind(
              "subword.teacher-steps",
              c -> c.subword().teacherSteps(),
              (b, v) -> b.subword.teacherSteps = v),
          bind(
              "subword.teacher-batch",
              c -> c.subword().teacherBatch(),
              (b, v) -> b.subword.teacherBatch = v),
          bind(
              "subword.teacher-lr",
              c -> c.subword().teacherLr(),
              (b, v) -> b.subword.teacherLr = v),
          bind(
              "subword.train-windows",
              c -> c.subword().trainWindows(),
              (b, v) -> b.subword.trainWindows = v),
          bind(
              "subword.val-windows",
              c -> c.subword().valWindows(),
              (b, v) -> b.subword.valWindows = v),
          bind(
              "subword.student-layers",
              c -> c.subword().studentLayers(),
              (b, v) -> b.subword.studentLayers = v),
          bind(
              "subword.student-heads",
              c -> c.subword().studentHeads(),
              (b, v) -> b.subword.studentHeads = v),
          bind(
              "subword.student-kv-heads",
              c -> c.subword().studentKvHeads(),
              (b, v) -> b.subword.studentKvHeads = v),
          bind(
              "subword.student-hidden",
              c -> c.subword().studentHidden(),
              (b, v) -> b.subword.studentHidden = v),
          bind(
              "subword.student-intermediate",
              c -> c.subword().studentIntermediate(),
              (b, v) -> b.subword.studentIntermediate = v),
          bind(
              "subword.student-steps",
              c -> c.subword().studentSteps(),
              (b, v) -> b.subword.studentSteps = v),
          bind(
              "subword.student-batch",
              c -> c.subword().studentBatch(),
              (b, v) -> b.subword.studentBatch = v),
          bind(
              "subword.eval-windows",
              c -> c.subword().evalWindows(),
              (b, v) -> b.subword.evalWindows = v));

  private static Map<String, Binding<?>> bindings(Binding<?>... all) {
    Map<String, Binding<?>> m = new LinkedHashMap<>();
    for (ConfigKeys.Key k : ConfigKeys.all()) {
      for (Binding<?> b : all) {
        if (b.key().equals(k.name())) {
          m.put(k.name(), b);
        }
      }
    }
    if (m.size() != all.length) {
      throw new IllegalStateException("a DemoConfig binding names an undeclared key");
    }
    return m;
  }

  /**
   * Applies overrides on top of the defaults ({@link ConfigKeys#parse}: an unknown key, a malformed
   * or out-of-range value fails naming the key), then the cross-key rules of the records.
   */
  public static DemoConfig from(Map<String, String> overrides) {
    ConfigKeys.Values values = ConfigKeys.parse(overrides);
    Builder b = new Builder();
    BINDINGS.values().forEach(binding -> binding.apply(b, values));
    return b.build();
  }

  /**
   * The components being collected by {@link #from}; {@link #build} runs the canonical
   * constructors, which hold the cross-key rules.
   */
  private static final class Builder {
    String runId;
    String runsDir;
    String cacheDir;
    boolean quick;
    String bootstrapServers;
    String topic;
    String sparkMaster;
    long seed;
    int blockSize;
    int teacherLayers;
    int teacherHeads;
    int teacherEmbd;
    int teacherSteps;
    int teacherBatch;
    float teacherLr;
    int topK;
    float temperature;
    int trainWindows;
    int valWindows;
    int labelBatch;
    double curateValFraction;
    int studentLayers;
    int studentHeads;
    int studentEmbd;
    int studentSteps;
    int studentBatch;
    float studentLr;
    float alpha;
    int evalWindows;
    List<String> workloads;
    final ArithmeticConfig.Builder arithmetic = new ArithmeticConfig.Builder();
    final SubwordConfig.Builder subword = new SubwordConfig.Builder();

    DemoConfig build() {
      return new DemoConfig(
          runId,
          runsDir,
          cacheDir,
          quick,
          bootstrapServers,
          topic,
          sparkMaster,
          seed,
          blockSize,
          teacherLayers,
          teacherHeads,
          teacherEmbd,
          teacherSteps,
          teacherBatch,
          teacherLr,
          topK,
          temperature,
          trainWindows,
          valWindows,
          labelBatch,
          curateValFraction,
          studentLayers,
          studentHeads,
          studentEmbd,
          studentSteps,
          studentBatch,
          studentLr,
          alpha,
          evalWindows,
          arithmetic.build(),
          workloads,
          subword.build());
    }
  }

  /** Whether {@code workload} (one of {@link #WORKLOADS}) runs. */
  public boolean runs(String workload) {
    return workloads.contains(workload) && (!workload.equals(ARITHMETIC) || arithmetic.enabled());
  }

  /** The full configuration as key = value, the form it is written next to a run's outputs. */
  public Map<String, String> toMap() {
    Map<String, String> m = new LinkedHashMap<>();
    BINDINGS.forEach((key, b) -> m.put(key, ConfigKeys.format(key, b.get().apply(this))));
    return m;
  }
}
