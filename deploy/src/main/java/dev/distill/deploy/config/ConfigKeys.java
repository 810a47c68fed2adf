package dev.distill.deploy.config;

import static dev.distill.deploy.config.ConfigKeys.Type.BOOLEAN;
import static dev.distill.deploy.config.ConfigKeys.Type.DOUBLE;
import static dev.distill.deploy.config.ConfigKeys.Type.FLOAT;
import static dev.distill.deploy.config.ConfigKeys.Type.INT;
import static dev.distill.deploy.config.ConfigKeys.Type.LIST;
import static dev.distill.deploy.config.ConfigKeys.Type.LONG;
import static dev.distill.deploy.config.ConfigKeys.Type.STRING;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * The one declaration of every configuration key: its stage file, its defaults (full and {@code
 * --quick}), whether it is a secret, and its documentation. The defaults of the pipeline, the
 * shipped {@code conf/*.conf} files ({@link ConfigDocs}, checked equal by a test) and {@code
 * distill config --docs} all come from here, so nothing is written twice.
 */
public final class ConfigKeys {
  /** One file of {@code conf/}: a stage, with the paragraph that opens it. */
  public enum Stage {
    PIPELINE(
        "pipeline.conf",
        "The whole run: run folder, Kafka, Spark. Read by every stage; `distill demo` reads all of"
            + " conf/ (`--config conf`)."),
    TEACHER(
        "teacher.conf",
        "Teacher and labelling: nanoGPT's CPU \"baby GPT\" (char-level, tiny Shakespeare, 90/10"
            + " split by position) and its soft labels (top-k at temperature T, plus the tail"
            + " mass)."),
    CURATE("curate.conf", "Curation (Spark CurateJob)."),
    TRAIN(
        "train.conf",
        "Students: about 1/8 of the teacher's parameters. alpha mixes KD (forward KL, T^2, tail"
            + " bucket) with hard-label cross-entropy; the baseline student uses alpha = 0 with the"
            + " same steps and seed. train.spark.* applies to `distill train --spark`."),
    EVAL("eval.conf", "Evaluation."),
    ARITHMETIC(
        "arithmetic.conf",
        "The arithmetic chain-of-thought workload: a teacher trained on step-by-step solutions of"
            + " 1-3 digit addition, subtraction and multiplication by one digit; it samples n"
            + " rationales per problem; Spark keeps the self-consistent ones that agree with the"
            + " gold answer; a student with under a quarter of the teacher's parameters is"
            + " distilled step by step, beside the same student trained on answers only."),
    SUBWORD(
        "subword.conf",
        "The subword workload: tiny Shakespeare (same 90/10 split and held-out text as the char"
            + " workload) through the bundled byte-level BPE tokenizer (660 ids); a Llama-family"
            + " teacher (RoPE, RMSNorm, SwiGLU, grouped-query attention) trained once and cached;"
            + " its top-k soft labels (label.top-k, label.temperature) through Kafka, Spark ingest"
            + " and curation; a Llama-family student of about a quarter of its parameters"
            + " distilled from them (student.alpha, student.lr), beside the same student on hard"
            + " labels only; the KD student exported as a Hugging Face folder.");

    private final String file;
    private final String doc;

    Stage(String file, String doc) {
      this.file = file;
      this.doc = doc;
    }

    public String file() {
      return file;
    }

    public String doc() {
      return doc;
    }
  }

  /** How a key's value is read from text and written back; every value is trimmed first. */
  public enum Type {
    STRING,
    BOOLEAN,
    INT,
    LONG,
    FLOAT,
    DOUBLE,
    /** Comma-separated, blanks dropped. */
    LIST;

    /** The typed value of {@code text}; a malformed value fails naming the key. */
    Object parse(String key, String text) {
      String v = text.trim();
      try {
        return switch (this) {
          case STRING -> v;
          case BOOLEAN -> {
            if (!v.equals("true") && !v.equals("false")) {
              throw new IllegalArgumentException(key + " must be true or false, got '" + v + "'");
            }
            yield Boolean.parseBoolean(v);
          }
          case INT -> Integer.parseInt(v);
          case LONG -> Long.parseLong(v);
          case FLOAT -> Float.parseFloat(v);
          case DOUBLE -> Double.parseDouble(v);
          case LIST ->
              Arrays.stream(v.split(",")).map(String::trim).filter(w -> !w.isEmpty()).toList();
        };
      } catch (NumberFormatException e) {
        String kind = this == INT || this == LONG ? "an integer" : "a number";
        throw new IllegalArgumentException(key + " must be " + kind + ", got '" + v + "'", e);
      }
    }

    /** The text form of a value of this type, the inverse of {@link #parse}. */
    String format(Object value) {
      if (this == LIST) {
        return String.join(",", ((List<?>) value).stream().map(String::valueOf).toList());
      }
      return String.valueOf(value);
    }
  }

  /** Checks one parsed value, as Kafka's {@code ConfigDef.Validator}; fails naming the key. */
  @FunctionalInterface
  public interface Validator {
    void ensureValid(String key, Object value);
  }

  /** No check beyond the type. */
  static final Validator ANY = (key, value) -> {};

  static Validator atLeast(double min) {
    return (key, value) -> {
      if (!(((Number) value).doubleValue() >= min)) {
        throw new IllegalArgumentException(key + " must be >= " + plain(min) + ", got " + value);
      }
    };
  }

  static Validator above(double min) {
    return (key, value) -> {
      if (!(((Number) value).doubleValue() > min)) {
        throw new IllegalArgumentException(key + " must be > " + plain(min) + ", got " + value);
      }
    };
  }

  /** The closed interval [lo, hi]. */
  static Validator between(double lo, double hi) {
    return (key, value) -> {
      double v = ((Number) value).doubleValue();
      if (!(v >= lo && v <= hi)) {
        throw new IllegalArgumentException(
            key + " must be in [" + plain(lo) + ", " + plain(hi) + "], got " + value);
      }
    };
  }

  /** The open interval (lo, hi). */
  static Validator openInterval(double lo, double hi) {
    return (key, value) -> {
      double v = ((Number) value).doubleValue();
      if (!(v > lo && v < hi)) {
        throw new IllegalArgumentException(
            key + " must be in (" + plain(lo) + ", " + plain(hi) + "), got " + value);
      }
    };
  }

  static Validator matching(String regex) {
    return (key, value) -> {
      if (!((String) value).matches(regex)) {
        throw new IllegalArgumentException(key + " must match " + regex + ", got " + value);
      }
    };
  }

  private static String plain(double d) {
    return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
  }

  /**
   * One key.
   *
   * @param name the key, e.g. {@code teacher.steps}
   * @param stage the conf file it lives in
   * @param type how its value is parsed and printed
   * @param validator checks a parsed value (ranges; cross-key rules stay with the records)
   * @param full the default of the full run
   * @param quick the default under {@code --quick}
   * @param secret never printed nor written next to a run; may be given as {@code name.file}
   * @param doc one line of documentation
   */
  public record Key(
      String name,
      Stage stage,
      Type type,
      Validator validator,
      String full,
      String quick,
      boolean secret,
      String doc) {
    public String defaultValue(boolean quickRun) {
      return quickRun ? quick : full;
    }

    /** The typed, validated value of {@code text}. */
    Object parse(String text) {
      Object value = type.parse(name, text);
      validator.ensureValid(name, value);
      return value;
    }
  }

  private static final List<Key> KEYS = new ArrayList<>();

  private static void key(
      Stage s, String name, Type type, Validator v, String full, String quick, String doc) {
    KEYS.add(new Key(name, s, type, v == null ? ANY : v, full, quick, false, doc));
  }

  private static void key(Stage s, String name, Type type, Validator v, String value, String doc) {
    key(s, name, type, v, value, value, doc);
  }

  static {
    Stage p = Stage.PIPELINE;
    key(
        p,
        "run.id",
        STRING,
        matching("[A-Za-z0-9._-]{1,64}"),
        "demo",
        "Run folder name under run.dir; re-running an id replaces it.");
    key(
        p,
        "run.dir",
        STRING,
        null,
        "runs",
        "Where run folders go. Nothing else on disk is written.");
    key(
        p,
        "run.cache-dir",
        STRING,
        null,
        "runs/.cache",
        "Cache of trained teachers, keyed by their config.");
    key(p, "run.quick", BOOLEAN, null, "false", "true", "Toy sizes, same stages (set by --quick).");
    key(p, "run.seed", LONG, null, "1337", "Seeds model init, sampling and data order.");
    key(
        p,
        "kafka.bootstrap-servers",
        STRING,
        null,
        "",
        "Kafka cluster; empty = start a single-node KRaft broker on loopback under the run"
            + " folder.");
    key(
        p,
        "kafka.topic",
        STRING,
        null,
        "distill.teacher-outputs",
        "Topic of the teacher's soft labels.");
    key(
        p,
        "spark.master",
        STRING,
        null,
        "local[2]",
        "Spark master for ingest, curation and --spark training.");
    key(
        p,
        "run.workloads",
        LIST,
        null,
        "shakespeare-bpe,arithmetic",
        "shakespeare-char,shakespeare-bpe,arithmetic",
        "Workloads `distill demo` runs (--workload): shakespeare-char (the char-level GPT of the"
            + " seed paper, with the compressed students), shakespeare-bpe (Llama family, BPE),"
            + " arithmetic (also needs arith.enabled). The report's main table is"
            + " shakespeare-char's when it runs, else shakespeare-bpe's.");

    Stage t = Stage.TEACHER;
    key(t, "model.block-size", INT, atLeast(1), "64", "Context length of teacher and students.");
    key(t, "teacher.layers", INT, atLeast(1), "4", "2", "Teacher depth.");
    key(t, "teacher.heads", INT, atLeast(1), "4", "2", "Teacher attention heads.");
    key(t, "teacher.embd", INT, atLeast(1), "128", "64", "Teacher width.");
    key(
        t,
        "teacher.steps",
        INT,
        atLeast(1),
        "5000",
        "150",
        "Teacher optimiser steps (cached once trained).");
    key(t, "teacher.batch", INT, atLeast(1), "12", "Teacher batch size (sequences).");
    key(
        t,
        "teacher.lr",
        FLOAT,
        null,
        "0.001",
        "Teacher peak learning rate (AdamW, warmup + cosine).");
    KEYS.add(
        new Key(
            "teacher.api-token",
            t,
            Type.STRING,
            ANY,
            "",
            "",
            true,
            "Bearer token of the teacher HTTP API; give it as teacher.api-token.file = PATH or"
                + " DISTILL_TEACHER_API_TOKEN(_FILE). Never printed.")); // secret
    key(
        t,
        "label.top-k",
        INT,
        atLeast(1),
        "8",
        "Soft labels: the teacher's k most likely next tokens.");
    key(
        t,
        "label.temperature",
        FLOAT,
        above(0),
        "2.0",
        "Soft labels: temperature T of the teacher's softmax.");
    key(t, "label.train-windows", INT, atLeast(1), "3000", "240", "Train-text windows labelled.");
    key(t, "label.val-windows", INT, atLeast(1), "300", "40", "Val-text windows labelled.");
    key(t, "label.batch", INT, atLeast(1), "64", "Windows per teacher forward pass.");

    key(
        Stage.CURATE,
        "curate.val-fraction",
        DOUBLE,
        openInterval(0, 1),
        "0.1",
        "Share of examples in the val split (hash of id).");

    Stage s = Stage.TRAIN;
    key(s, "student.layers", INT, atLeast(1), "2", "1", "Student depth.");
    key(s, "student.heads", INT, atLeast(1), "2", "Student attention heads.");
    key(s, "student.embd", INT, atLeast(1), "64", "32", "Student width.");
    key(s, "student.steps", INT, atLeast(1), "1500", "100", "Student optimiser steps.");
    key(
        s,
        "student.batch",
        INT,
        atLeast(1),
        "32",
        "16",
        "Student global batch (sequences per step).");
    key(s, "student.lr", FLOAT, null, "0.002", "Student peak learning rate.");
    key(
        s,
        "student.alpha",
        FLOAT,
        between(0, 1),
        "0.5",
        "Weight of the KD term; 1 - alpha weights hard-label CE.");
    key(
        s,
        "train.divergence",
        STRING,
        null,
        "forward_kl",
        "KD divergence of `distill train` (in-process and --spark): forward_kl, reverse_kl,"
            + " jsd:BETA,"
            + " skew_forward_kl:A, skew_reverse_kl:A or total_variation (loss.Divergence).");
    key(
        s,
        "train.loss",
        STRING,
        null,
        "kd",
        "KD loss of `distill train` (in-process): kd (token-level, the student reads the teacher's"
            + " tokenizer), or a cross-tokenizer loss that lets --student have its own tokenizer:"
            + " uld (Universal Logit Distillation), span (character-aligned spans, with"
            + " train.divergence), span-debiased (span with the teacher's buckets corrected for the"
            + " student's token boundaries) or span-path (KD along every character of the student's"
            + " next token; character-level teacher only).");
    key(
        s,
        "train.checkpoint-every",
        INT,
        atLeast(1),
        "100",
        "20",
        "Steps between resumable checkpoints of `distill train` (in-process; with --spark rank 0"
            + " writes them); --resume continues from the newest.");
    key(
        s,
        "train.accumulation-steps",
        INT,
        atLeast(1),
        "1",
        "Micro-batches per optimiser step of `distill train`: in-process each is student.batch"
            + " sequences (effective batch = student.batch x this, as nanoGPT's"
            + " gradient_accumulation_steps); with --spark each worker splits its student.batch /"
            + " workers sequences into this many (the step's batch stays student.batch).");
    key(
        s,
        "train.concurrent-micro-batches",
        INT,
        atLeast(1),
        "1",
        "Micro-batches of `distill train` (in-process) run at the same time, each on its own thread"
            + " with one intra-op engine thread; must divide train.accumulation-steps. 2 with"
            + " train.accumulation-steps = 2 trains a small student faster on 2 cores than one"
            + " micro-batch on 2 threads (student-trainer README), with the gradients of sequential"
            + " accumulation on one thread. Refused with dropout, compression and --spark.");
    key(
        s,
        "train.patience",
        INT,
        atLeast(0),
        "0",
        "Early stopping of `distill train` (in-process): stop after this many validation passes"
            + " (every 20% of student.steps) without improvement and keep the best pass's"
            + " parameters; 0 never stops early. --spark refuses more than 0.");
    key(
        s,
        "train.min-delta",
        FLOAT,
        atLeast(0),
        "0",
        "How much a validation loss must beat the best so far (nats per token) to count as an"
            + " improvement for train.patience.");
    // On-policy and mixed distillation (issue 15, GKD arXiv:2306.13649): `distill train`
    // in-process.
    key(
        s,
        "train.on-policy-fraction",
        FLOAT,
        null,
        "0",
        "GKD's lambda in [0, 1]: the share of training batches on which the student samples"
            + " continuations of the batch's prompts and learns from the teacher's labels of its own"
            + " tokens (needs --teacher-checkpoint or --teacher-url); 0 is offline KD only.");
    key(
        s,
        "train.on-policy-temperature",
        FLOAT,
        null,
        "1.0",
        "The student's sampling temperature for on-policy batches (0 = greedy).");
    key(
        s,
        "train.on-policy-max-tokens",
        INT,
        null,
        "32",
        "Most tokens the student generates per sequence of an on-policy batch: after the prompt"
            + " (train.on-policy-prompt-end), or, with no prompt end, in place of the example's"
            + " last this many tokens.");
    key(
        s,
        "train.on-policy-divergence",
        STRING,
        null,
        "jsd",
        "Divergence on on-policy tokens (top-k + tail at the labels' T, times T^2): jsd"
            + " (generalized JSD(beta) of GKD, beta = train.on-policy-beta) or reverse_kl.");
    key(
        s,
        "train.on-policy-beta",
        FLOAT,
        null,
        "0.5",
        "beta of train.on-policy-divergence = jsd, in [0, 1] (0 = forward KL, 1 = reverse KL).");
    key(
        s,
        "train.on-policy-prompt-end",
        STRING,
        null,
        "",
        "Where each example's prompt ends for on-policy batches: the prompt is the example up to"
            + " and including the first occurrence of this text (e.g. =\\n after an arithmetic"
            + " problem; \\n is a newline, \\t a tab, \\\\ a backslash, with"
            + " the backslash doubled once more in a conf file); examples without it are left out"
            + " of on-policy batches and counted (on-policy.rows-without-prompt-end). Empty: the"
            + " examples are text windows and the prompt is all but the last"
            + " train.on-policy-max-tokens tokens.");
    key(
        s,
        "train.on-policy-stop",
        STRING,
        null,
        "",
        "A sampled continuation ends once it ends with this text (escapes as"
            + " train.on-policy-prompt-end; e.g. .\\n after an arithmetic answer line), so the"
            + " teacher scores and the loss reads only the answer; empty: every row samples"
            + " train.on-policy-max-tokens tokens.");
    key(
        s,
        "train.spark.workers",
        INT,
        null,
        "2",
        "Barrier tasks (data-parallel workers) of --spark.");
    key(
        s,
        "train.spark.sync",
        STRING,
        null,
        "allreduce",
        "allreduce: gradients summed every step; average: parameters averaged every"
            + " train.spark.average-every steps (local SGD); diloco: DiLoCo (arXiv:2311.08105),"
            + " train.spark.inner-steps local AdamW steps, then the mean parameter delta takes an"
            + " outer Nesterov step.");
    key(
        s,
        "train.spark.average-every",
        INT,
        null,
        "8",
        "H of local SGD (train.spark.sync = average).");
    key(
        s,
        "train.spark.inner-steps",
        INT,
        null,
        "50",
        "H of DiLoCo (train.spark.sync = diloco): inner AdamW steps per outer step.");
    key(
        s,
        "train.spark.outer-lr",
        FLOAT,
        null,
        "0.7",
        "DiLoCo's outer learning rate (the paper's 0.7); 1 with momentum 0 is plain averaging.");
    key(
        s,
        "train.spark.outer-momentum",
        FLOAT,
        null,
        "0.9",
        "DiLoCo's outer Nesterov momentum (the paper's 0.9).");
    key(
        s,
        "train.spark.transport",
        STRING,
        matching("socket|barrier"),
        "socket",
        "How the workers exchange: socket (the barrier's allGather only as the rendezvous, then"
            + " direct TCP among the tasks) or barrier (every exchange through Spark's allGather,"
            + " relayed by the driver; about 1 s each).");

    key(
        Stage.EVAL,
        "eval.windows",
        INT,
        atLeast(1),
        "200",
        "40",
        "Windows of held-out text (no stage sees it).");

    Stage a = Stage.ARITHMETIC;
    key(a, "arith.enabled", BOOLEAN, null, "true", "Run the workload at all.");
    key(
        a,
        "arith.train-problems",
        INT,
        atLeast(1),
        "60000",
        "3000",
        "Problems whose gold rationales train the teacher.");
    key(a, "arith.block-size", INT, atLeast(1), "64", "Context length of teacher and students.");
    key(a, "arith.teacher-steps", INT, atLeast(1), "3000", "500", "Teacher optimiser steps.");
    key(a, "arith.teacher-batch", INT, atLeast(1), "24", "Teacher batch size.");
    key(
        a,
        "arith.labelled-problems",
        INT,
        atLeast(1),
        "3000",
        "24",
        "Problems the teacher samples rationales for.");
    key(
        a,
        "arith.rationales",
        INT,
        atLeast(1),
        "4",
        "2",
        "Rationales sampled per problem (n, self-consistency).");
    key(
        a,
        "arith.sample-temperature",
        FLOAT,
        above(0),
        "0.7",
        "Sampling temperature of the rationales.");
    // A toy teacher rarely agrees with the gold answers; --quick still exercises every stage.
    key(
        a,
        "arith.require-gold",
        BOOLEAN,
        null,
        "true",
        "false",
        "Drop problems whose majority answer differs from gold.");
    key(a, "arith.student-layers", INT, atLeast(1), "2", "1", "Student depth.");
    key(a, "arith.student-heads", INT, atLeast(1), "4", "2", "Student attention heads.");
    key(a, "arith.student-embd", INT, atLeast(1), "80", "32", "Student width.");
    key(a, "arith.student-steps", INT, atLeast(1), "3000", "40", "Student optimiser steps.");
    key(a, "arith.student-batch", INT, atLeast(1), "32", "Student batch size.");
    key(
        a,
        "arith.eval-problems",
        INT,
        atLeast(1),
        "100",
        "8",
        "Held-out problems per evaluation slice.");

    Stage w = Stage.SUBWORD;
    key(
        w,
        "subword.block-size",
        INT,
        atLeast(1),
        "64",
        "32",
        "Context length in BPE tokens of teacher and students.");
    key(w, "subword.teacher-layers", INT, atLeast(1), "4", "2", "Teacher depth.");
    key(w, "subword.teacher-heads", INT, atLeast(1), "4", "Teacher query heads.");
    key(
        w,
        "subword.teacher-kv-heads",
        INT,
        atLeast(1),
        "2",
        "Teacher key/value heads (grouped-query attention).");
    key(w, "subword.teacher-hidden", INT, atLeast(1), "128", "64", "Teacher width.");
    key(
        w,
        "subword.teacher-intermediate",
        INT,
        atLeast(1),
        "352",
        "176",
        "Teacher SwiGLU inner width.");
    key(
        w,
        "subword.teacher-steps",
        INT,
        atLeast(1),
        "2000",
        "150",
        "Teacher optimiser steps (cached once trained).");
    key(w, "subword.teacher-batch", INT, atLeast(1), "16", "12", "Teacher batch size (sequences).");
    key(
        w,
        "subword.teacher-lr",
        FLOAT,
        above(0),
        "0.002",
        "Teacher peak learning rate (AdamW, warmup + cosine).");
    key(w, "subword.train-windows", INT, atLeast(1), "3000", "160", "Train-text windows labelled.");
    key(w, "subword.val-windows", INT, atLeast(1), "300", "40", "Val-text windows labelled.");
    key(w, "subword.student-layers", INT, atLeast(1), "3", "1", "Student depth.");
    key(w, "subword.student-heads", INT, atLeast(1), "4", "2", "Student query heads.");
    key(w, "subword.student-kv-heads", INT, atLeast(1), "2", "1", "Student key/value heads.");
    key(w, "subword.student-hidden", INT, atLeast(1), "64", "32", "Student width.");
    key(
        w,
        "subword.student-intermediate",
        INT,
        atLeast(1),
        "176",
        "88",
        "Student SwiGLU inner width.");
    key(w, "subword.student-steps", INT, atLeast(1), "1000", "60", "Student optimiser steps.");
    key(w, "subword.student-batch", INT, atLeast(1), "32", "16", "Student batch size (sequences).");
    key(
        w,
        "subword.eval-windows",
        INT,
        atLeast(1),
        "200",
        "24",
        "Windows of held-out text evaluated.");
  }

  private ConfigKeys() {}

  public static List<Key> all() {
    return List.copyOf(KEYS);
  }

  public static Optional<Key> find(String name) {
    return KEYS.stream().filter(k -> k.name().equals(name)).findFirst();
  }

  /** Every key with its default, in declaration order. */
  public static Map<String, String> defaults(boolean quick) {
    Map<String, String> m = new LinkedHashMap<>();
    for (Key k : KEYS) {
      m.put(k.name(), k.defaultValue(quick));
    }
    return m;
  }

  /**
   * Every declared key, typed and validated: the defaults ({@code --quick} ones when {@code
   * run.quick} is true) overlaid with {@code overrides}. An unknown key fails naming it and the
   * nearest known key; a malformed or out-of-range value fails naming its key.
   */
  public static Values parse(Map<String, String> overrides) {
    boolean quick =
        (Boolean)
            find("run.quick").orElseThrow().parse(overrides.getOrDefault("run.quick", "false"));
    Map<String, String> text = defaults(quick);
    for (Map.Entry<String, String> e : overrides.entrySet()) {
      if (!text.containsKey(e.getKey())) {
        throw new IllegalArgumentException(unknownKey(e.getKey(), text.keySet()));
      }
      text.put(e.getKey(), e.getValue());
    }
    Map<String, Object> values = new LinkedHashMap<>();
    for (Key k : KEYS) {
      values.put(k.name(), k.parse(text.get(k.name())));
    }
    return new Values(values);
  }

  /** Parsed values by key, as Kafka's {@code AbstractConfig}: typed getters, checked names. */
  public static final class Values {
    private final Map<String, Object> values;

    private Values(Map<String, Object> values) {
      this.values = values;
    }

    /** The value of {@code key}, of its declared type; an undeclared key is a programming error. */
    public Object get(String key) {
      Object v = values.get(key);
      if (v == null) {
        throw new IllegalStateException("no declared config key " + key);
      }
      return v;
    }

    public String string(String key) {
      return (String) get(key);
    }

    public int integer(String key) {
      return (Integer) get(key);
    }

    public float number(String key) {
      return (Float) get(key);
    }
  }

  /** The text form of a typed value of {@code key}, as written in conf files and run folders. */
  public static String format(String key, Object value) {
    return find(key).orElseThrow().type().format(value);
  }

  /**
   * "unknown config key 'K'", the nearest known key when one is close (edit distance <= 3), and
   * where the keys are listed.
   */
  static String unknownKey(String key, Collection<String> known) {
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String k : new TreeSet<>(known)) {
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
}
