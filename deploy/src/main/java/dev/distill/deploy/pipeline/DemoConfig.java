package dev.distill.deploy.pipeline;

import dev.distill.deploy.config.ConfigKeys;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
    if (runId == null || !runId.matches("[A-Za-z0-9._-]{1,64}")) {
      throw new IllegalArgumentException("run.id must match [A-Za-z0-9._-]{1,64}, got " + runId);
    }
    if (!(temperature > 0f)) {
      throw new IllegalArgumentException("label.temperature must be > 0, got " + temperature);
    }
    if (alpha < 0f || alpha > 1f) {
      throw new IllegalArgumentException("student.alpha must be in [0, 1], got " + alpha);
    }
    if (curateValFraction <= 0 || curateValFraction >= 1) {
      throw new IllegalArgumentException("curate.val-fraction must be in (0, 1)");
    }
    for (int v :
        new int[] {
          blockSize,
          teacherLayers,
          teacherHeads,
          teacherEmbd,
          teacherSteps,
          teacherBatch,
          topK,
          trainWindows,
          valWindows,
          labelBatch,
          studentLayers,
          studentHeads,
          studentEmbd,
          studentSteps,
          studentBatch,
          evalWindows
        }) {
      if (v < 1) {
        throw new IllegalArgumentException("sizes and counts must be >= 1: " + this);
      }
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
   * "unknown config key 'K'", the nearest known key when one is close (edit distance <= 3), and
   * where the keys are listed.
   */
  static String unknownKey(String key, java.util.Collection<String> known) {
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String k : new java.util.TreeSet<>(known)) {
      int d = editDistance(key, k);
      if (d < bestDistance) {
        bestDistance = d;
        best = k;
      }
    }
    String hint = best != null && bestDistance <= 3 ? " (did you mean " + best + "?)" : "";
    return "unknown config key '"
        + key
        + "'"
        + hint
        + "; `distill config` lists every key with its value, conf/*.conf documents them";
  }

  private static int editDistance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }

  /** Applies overrides on top of the defaults; a key the defaults do not have fails. */
  public static DemoConfig from(Map<String, String> overrides) {
    boolean quick = Boolean.parseBoolean(overrides.getOrDefault("run.quick", "false"));
    Map<String, String> m = defaults(quick);
    for (Map.Entry<String, String> e : overrides.entrySet()) {
      if (!m.containsKey(e.getKey())) {
        throw new IllegalArgumentException(unknownKey(e.getKey(), m.keySet()));
      }
      m.put(e.getKey(), e.getValue().trim());
    }
    Parser p = new Parser(m);
    return new DemoConfig(
        p.str("run.id"),
        p.str("run.dir"),
        p.str("run.cache-dir"),
        p.bool("run.quick"),
        p.str("kafka.bootstrap-servers").isEmpty() ? null : p.str("kafka.bootstrap-servers"),
        p.str("kafka.topic"),
        p.str("spark.master"),
        p.lng("run.seed"),
        p.i("model.block-size"),
        p.i("teacher.layers"),
        p.i("teacher.heads"),
        p.i("teacher.embd"),
        p.i("teacher.steps"),
        p.i("teacher.batch"),
        p.f("teacher.lr"),
        p.i("label.top-k"),
        p.f("label.temperature"),
        p.i("label.train-windows"),
        p.i("label.val-windows"),
        p.i("label.batch"),
        p.d("curate.val-fraction"),
        p.i("student.layers"),
        p.i("student.heads"),
        p.i("student.embd"),
        p.i("student.steps"),
        p.i("student.batch"),
        p.f("student.lr"),
        p.f("student.alpha"),
        p.i("eval.windows"),
        new ArithmeticConfig(
            p.bool("arith.enabled"),
            p.i("arith.train-problems"),
            p.i("arith.block-size"),
            p.i("arith.teacher-steps"),
            p.i("arith.teacher-batch"),
            p.i("arith.labelled-problems"),
            p.i("arith.rationales"),
            p.f("arith.sample-temperature"),
            p.bool("arith.require-gold"),
            p.i("arith.student-layers"),
            p.i("arith.student-heads"),
            p.i("arith.student-embd"),
            p.i("arith.student-steps"),
            p.i("arith.student-batch"),
            p.i("arith.eval-problems")),
        workloadList(p.str("run.workloads")),
        new SubwordConfig(
            p.i("subword.block-size"),
            p.i("subword.teacher-layers"),
            p.i("subword.teacher-heads"),
            p.i("subword.teacher-kv-heads"),
            p.i("subword.teacher-hidden"),
            p.i("subword.teacher-intermediate"),
            p.i("subword.teacher-steps"),
            p.i("subword.teacher-batch"),
            p.f("subword.teacher-lr"),
            p.i("subword.train-windows"),
            p.i("subword.val-windows"),
            p.i("subword.student-layers"),
            p.i("subword.student-heads"),
            p.i("subword.student-kv-heads"),
            p.i("subword.student-hidden"),
            p.i("subword.student-intermediate"),
            p.i("subword.student-steps"),
            p.i("subword.student-batch"),
            p.i("subword.eval-windows")));
  }

  private static List<String> workloadList(String value) {
    List<String> out = new ArrayList<>();
    for (String w : value.split(",")) {
      if (!w.isBlank()) {
        out.add(w.trim());
      }
    }
    return out;
  }

  /** Whether {@code workload} (one of {@link #WORKLOADS}) runs. */
  public boolean runs(String workload) {
    return workloads.contains(workload) && (!workload.equals(ARITHMETIC) || arithmetic.enabled());
  }

  /** The full configuration as key = value, the form it is written next to a run's outputs. */
  public Map<String, String> toMap() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("run.id", runId);
    m.put("run.dir", runsDir);
    m.put("run.cache-dir", cacheDir);
    m.put("run.quick", Boolean.toString(quick));
    m.put("run.seed", Long.toString(seed));
    m.put("kafka.bootstrap-servers", bootstrapServers == null ? "" : bootstrapServers);
    m.put("kafka.topic", topic);
    m.put("spark.master", sparkMaster);
    m.put("run.workloads", String.join(",", workloads));
    m.put("model.block-size", Integer.toString(blockSize));
    m.put("teacher.layers", Integer.toString(teacherLayers));
    m.put("teacher.heads", Integer.toString(teacherHeads));
    m.put("teacher.embd", Integer.toString(teacherEmbd));
    m.put("teacher.steps", Integer.toString(teacherSteps));
    m.put("teacher.batch", Integer.toString(teacherBatch));
    m.put("teacher.lr", Float.toString(teacherLr));
    m.put("label.top-k", Integer.toString(topK));
    m.put("label.temperature", Float.toString(temperature));
    m.put("label.train-windows", Integer.toString(trainWindows));
    m.put("label.val-windows", Integer.toString(valWindows));
    m.put("label.batch", Integer.toString(labelBatch));
    m.put("curate.val-fraction", Double.toString(curateValFraction));
    m.put("student.layers", Integer.toString(studentLayers));
    m.put("student.heads", Integer.toString(studentHeads));
    m.put("student.embd", Integer.toString(studentEmbd));
    m.put("student.steps", Integer.toString(studentSteps));
    m.put("student.batch", Integer.toString(studentBatch));
    m.put("student.lr", Float.toString(studentLr));
    m.put("student.alpha", Float.toString(alpha));
    m.put("eval.windows", Integer.toString(evalWindows));
    ArithmeticConfig a = arithmetic;
    m.put("arith.enabled", Boolean.toString(a.enabled()));
    m.put("arith.train-problems", Integer.toString(a.trainProblems()));
    m.put("arith.block-size", Integer.toString(a.blockSize()));
    m.put("arith.teacher-steps", Integer.toString(a.teacherSteps()));
    m.put("arith.teacher-batch", Integer.toString(a.teacherBatch()));
    m.put("arith.labelled-problems", Integer.toString(a.labelledProblems()));
    m.put("arith.rationales", Integer.toString(a.rationales()));
    m.put("arith.sample-temperature", Float.toString(a.sampleTemperature()));
    m.put("arith.require-gold", Boolean.toString(a.requireGold()));
    m.put("arith.student-layers", Integer.toString(a.studentLayers()));
    m.put("arith.student-heads", Integer.toString(a.studentHeads()));
    m.put("arith.student-embd", Integer.toString(a.studentEmbd()));
    m.put("arith.student-steps", Integer.toString(a.studentSteps()));
    m.put("arith.student-batch", Integer.toString(a.studentBatch()));
    m.put("arith.eval-problems", Integer.toString(a.evalProblems()));
    SubwordConfig w = subword;
    m.put("subword.block-size", Integer.toString(w.blockSize()));
    m.put("subword.teacher-layers", Integer.toString(w.teacherLayers()));
    m.put("subword.teacher-heads", Integer.toString(w.teacherHeads()));
    m.put("subword.teacher-kv-heads", Integer.toString(w.teacherKvHeads()));
    m.put("subword.teacher-hidden", Integer.toString(w.teacherHidden()));
    m.put("subword.teacher-intermediate", Integer.toString(w.teacherIntermediate()));
    m.put("subword.teacher-steps", Integer.toString(w.teacherSteps()));
    m.put("subword.teacher-batch", Integer.toString(w.teacherBatch()));
    m.put("subword.teacher-lr", Float.toString(w.teacherLr()));
    m.put("subword.train-windows", Integer.toString(w.trainWindows()));
    m.put("subword.val-windows", Integer.toString(w.valWindows()));
    m.put("subword.student-layers", Integer.toString(w.studentLayers()));
    m.put("subword.student-heads", Integer.toString(w.studentHeads()));
    m.put("subword.student-kv-heads", Integer.toString(w.studentKvHeads()));
    m.put("subword.student-hidden", Integer.toString(w.studentHidden()));
    m.put("subword.student-intermediate", Integer.toString(w.studentIntermediate()));
    m.put("subword.student-steps", Integer.toString(w.studentSteps()));
    m.put("subword.student-batch", Integer.toString(w.studentBatch()));
    m.put("subword.eval-windows", Integer.toString(w.evalWindows()));
    return m;
  }

  private record Parser(Map<String, String> m) {
    String str(String k) {
      return m.get(k);
    }

    boolean bool(String k) {
      String v = m.get(k);
      if (!v.equals("true") && !v.equals("false")) {
        throw new IllegalArgumentException(k + " must be true or false, got '" + v + "'");
      }
      return Boolean.parseBoolean(v);
    }

    int i(String k) {
      try {
        return Integer.parseInt(m.get(k));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(k + " must be an integer, got '" + m.get(k) + "'");
      }
    }

    long lng(String k) {
      try {
        return Long.parseLong(m.get(k));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(k + " must be an integer, got '" + m.get(k) + "'");
      }
    }

    float f(String k) {
      return (float) d(k);
    }

    double d(String k) {
      try {
        return Double.parseDouble(m.get(k));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(k + " must be a number, got '" + m.get(k) + "'");
      }
    }
  }
}
