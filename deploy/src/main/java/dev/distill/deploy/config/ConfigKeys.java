package dev.distill.deploy.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

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

  /**
   * One key.
   *
   * @param name the key, e.g. {@code teacher.steps}
   * @param stage the conf file it lives in
   * @param full the default of the full run
   * @param quick the default under {@code --quick}
   * @param secret never printed nor written next to a run; may be given as {@code name.file}
   * @param doc one line of documentation
   */
  public record Key(
      String name, Stage stage, String full, String quick, boolean secret, String doc) {
    public String defaultValue(boolean quickRun) {
      return quickRun ? quick : full;
    }
  }

  private static final List<Key> KEYS = new ArrayList<>();

  private static void key(Stage s, String name, String full, String quick, String doc) {
    KEYS.add(new Key(name, s, full, quick, false, doc));
  }

  private static void key(Stage s, String name, String value, String doc) {
    key(s, name, value, value, doc);
  }

  static {
    Stage p = Stage.PIPELINE;
    key(p, "run.id", "demo", "Run folder name under run.dir; re-running an id replaces it.");
    key(p, "run.dir", "runs", "Where run folders go. Nothing else on disk is written.");
    key(p, "run.cache-dir", "runs/.cache", "Cache of trained teachers, keyed by their config.");
    key(p, "run.quick", "false", "true", "Toy sizes, same stages (set by --quick).");
    key(p, "run.seed", "1337", "Seeds model init, sampling and data order.");
    key(
        p,
        "kafka.bootstrap-servers",
        "",
        "Kafka cluster; empty = start a single-node KRaft broker on loopback under the run"
            + " folder.");
    key(p, "kafka.topic", "distill.teacher-outputs", "Topic of the teacher's soft labels.");
    key(p, "spark.master", "local[2]", "Spark master for ingest, curation and --spark training.");
    key(
        p,
        "run.workloads",
        "shakespeare-bpe,arithmetic",
        "shakespeare-char,shakespeare-bpe,arithmetic",
        "Workloads `distill demo` runs (--workload): shakespeare-char (the char-level GPT of the"
            + " seed paper, with the compressed students), shakespeare-bpe (Llama family, BPE),"
            + " arithmetic (also needs arith.enabled). The report's main table is"
            + " shakespeare-char's when it runs, else shakespeare-bpe's.");

    Stage t = Stage.TEACHER;
    key(t, "model.block-size", "64", "Context length of teacher and students.");
    key(t, "teacher.layers", "4", "2", "Teacher depth.");
    key(t, "teacher.heads", "4", "2", "Teacher attention heads.");
    key(t, "teacher.embd", "128", "64", "Teacher width.");
    key(t, "teacher.steps", "5000", "150", "Teacher optimiser steps (cached once trained).");
    key(t, "teacher.batch", "12", "Teacher batch size (sequences).");
    key(t, "teacher.lr", "0.001", "Teacher peak learning rate (AdamW, warmup + cosine).");
    KEYS.add(
        new Key(
            "teacher.api-token",
            t,
            "",
            "",
            true,
            "Bearer token of the teacher HTTP API; give it as teacher.api-token.file = PATH or"
                + " DISTILL_TEACHER_API_TOKEN(_FILE). Never printed.")); // secret
    key(t, "label.top-k", "8", "Soft labels: the teacher's k most likely next tokens.");
    key(t, "label.temperature", "2.0", "Soft labels: temperature T of the teacher's softmax.");
    key(t, "label.train-windows", "3000", "240", "Train-text windows labelled.");
    key(t, "label.val-windows", "300", "40", "Val-text windows labelled.");
    key(t, "label.batch", "64", "Windows per teacher forward pass.");

    key(
        Stage.CURATE,
        "curate.val-fraction",
        "0.1",
        "Share of examples in the val split (hash of id).");

    Stage s = Stage.TRAIN;
    key(s, "student.layers", "2", "1", "Student depth.");
    key(s, "student.heads", "2", "Student attention heads.");
    key(s, "student.embd", "64", "32", "Student width.");
    key(s, "student.steps", "1500", "100", "Student optimiser steps.");
    key(s, "student.batch", "32", "16", "Student global batch (sequences per step).");
    key(s, "student.lr", "0.002", "Student peak learning rate.");
    key(s, "student.alpha", "0.5", "Weight of the KD term; 1 - alpha weights hard-label CE.");
    key(
        s,
        "train.divergence",
        "forward_kl",
        "KD divergence of `distill train` (in-process and --spark): forward_kl, reverse_kl,"
            + " jsd:BETA,"
            + " skew_forward_kl:A, skew_reverse_kl:A or total_variation (loss.Divergence).");
    key(
        s,
        "train.loss",
        "kd",
        "KD loss of `distill train` (in-process): kd (token-level, the student reads the teacher's"
            + " tokenizer), or a cross-tokenizer loss that lets --student have its own tokenizer:"
            + " uld (Universal Logit Distillation) or span (character-aligned spans, with"
            + " train.divergence).");
    key(
        s,
        "train.checkpoint-every",
        "100",
        "20",
        "Steps between resumable checkpoints of `distill train` (in-process; with --spark rank 0"
            + " writes them); --resume continues from the newest.");
    key(
        s,
        "train.accumulation-steps",
        "1",
        "Micro-batches of student.batch sequences per optimiser step of `distill train`"
            + " (in-process; effective batch = student.batch x this, as nanoGPT's"
            + " gradient_accumulation_steps). --spark refuses more than 1.");
    key(
        s,
        "train.patience",
        "0",
        "Early stopping of `distill train` (in-process): stop after this many validation passes"
            + " (every 20% of student.steps) without improvement and keep the best pass's"
            + " parameters; 0 never stops early. --spark refuses more than 0.");
    key(
        s,
        "train.min-delta",
        "0",
        "How much a validation loss must beat the best so far (nats per token) to count as an"
            + " improvement for train.patience.");
    // On-policy and mixed distillation (issue 15, GKD arXiv:2306.13649): `distill train`
    // in-process.
    key(
        s,
        "train.on-policy-fraction",
        "0",
        "GKD's lambda in [0, 1]: the share of training batches on which the student samples"
            + " continuations of the batch's prompts and learns from the teacher's labels of its own"
            + " tokens (needs --teacher-checkpoint or --teacher-url); 0 is offline KD only.");
    key(
        s,
        "train.on-policy-temperature",
        "1.0",
        "The student's sampling temperature for on-policy batches (0 = greedy).");
    key(
        s,
        "train.on-policy-max-tokens",
        "32",
        "Tokens the student generates per sequence of an on-policy batch: the example's last this"
            + " many tokens are replaced by its own continuation of the tokens before them.");
    key(
        s,
        "train.on-policy-divergence",
        "jsd",
        "Divergence on on-policy tokens (top-k + tail at the labels' T, times T^2): jsd"
            + " (generalized JSD(beta) of GKD, beta = train.on-policy-beta) or reverse_kl.");
    key(
        s,
        "train.on-policy-beta",
        "0.5",
        "beta of train.on-policy-divergence = jsd, in [0, 1] (0 = forward KL, 1 = reverse KL).");
    key(s, "train.spark.workers", "2", "Barrier tasks (data-parallel workers) of --spark.");
    key(
        s,
        "train.spark.sync",
        "allreduce",
        "allreduce: gradients summed every step; average: parameters averaged every"
            + " train.spark.average-every steps (local SGD); diloco: DiLoCo (arXiv:2311.08105),"
            + " train.spark.inner-steps local AdamW steps, then the mean parameter delta takes an"
            + " outer Nesterov step.");
    key(s, "train.spark.average-every", "8", "H of local SGD (train.spark.sync = average).");
    key(
        s,
        "train.spark.inner-steps",
        "50",
        "H of DiLoCo (train.spark.sync = diloco): inner AdamW steps per outer step.");
    key(
        s,
        "train.spark.outer-lr",
        "0.7",
        "DiLoCo's outer learning rate (the paper's 0.7); 1 with momentum 0 is plain averaging.");
    key(
        s,
        "train.spark.outer-momentum",
        "0.9",
        "DiLoCo's outer Nesterov momentum (the paper's 0.9).");
    key(
        s,
        "train.spark.transport",
        "socket",
        "How the workers exchange: socket (the barrier's allGather only as the rendezvous, then"
            + " direct TCP among the tasks) or barrier (every exchange through Spark's allGather,"
            + " relayed by the driver; about 1 s each).");

    key(Stage.EVAL, "eval.windows", "200", "40", "Windows of held-out text (no stage sees it).");

    Stage a = Stage.ARITHMETIC;
    key(a, "arith.enabled", "true", "Run the workload at all.");
    key(
        a,
        "arith.train-problems",
        "60000",
        "3000",
        "Problems whose gold rationales train the teacher.");
    key(a, "arith.block-size", "64", "Context length of teacher and students.");
    key(a, "arith.teacher-steps", "3000", "500", "Teacher optimiser steps.");
    key(a, "arith.teacher-batch", "24", "Teacher batch size.");
    key(a, "arith.labelled-problems", "3000", "24", "Problems the teacher samples rationales for.");
    key(a, "arith.rationales", "4", "2", "Rationales sampled per problem (n, self-consistency).");
    key(a, "arith.sample-temperature", "0.7", "Sampling temperature of the rationales.");
    // A toy teacher rarely agrees with the gold answers; --quick still exercises every stage.
    key(
        a,
        "arith.require-gold",
        "true",
        "false",
        "Drop problems whose majority answer differs from gold.");
    key(a, "arith.student-layers", "2", "1", "Student depth.");
    key(a, "arith.student-heads", "4", "2", "Student attention heads.");
    key(a, "arith.student-embd", "80", "32", "Student width.");
    key(a, "arith.student-steps", "3000", "40", "Student optimiser steps.");
    key(a, "arith.student-batch", "32", "Student batch size.");
    key(a, "arith.eval-problems", "100", "8", "Held-out problems per evaluation slice.");

    Stage w = Stage.SUBWORD;
    key(
        w,
        "subword.block-size",
        "64",
        "32",
        "Context length in BPE tokens of teacher and students.");
    key(w, "subword.teacher-layers", "4", "2", "Teacher depth.");
    key(w, "subword.teacher-heads", "4", "Teacher query heads.");
    key(w, "subword.teacher-kv-heads", "2", "Teacher key/value heads (grouped-query attention).");
    key(w, "subword.teacher-hidden", "128", "64", "Teacher width.");
    key(w, "subword.teacher-intermediate", "352", "176", "Teacher SwiGLU inner width.");
    key(
        w,
        "subword.teacher-steps",
        "2500",
        "150",
        "Teacher optimiser steps (cached once trained).");
    key(w, "subword.teacher-batch", "16", "12", "Teacher batch size (sequences).");
    key(w, "subword.teacher-lr", "0.002", "Teacher peak learning rate (AdamW, warmup + cosine).");
    key(w, "subword.train-windows", "3000", "160", "Train-text windows labelled.");
    key(w, "subword.val-windows", "300", "40", "Val-text windows labelled.");
    key(w, "subword.student-layers", "3", "1", "Student depth.");
    key(w, "subword.student-heads", "4", "2", "Student query heads.");
    key(w, "subword.student-kv-heads", "2", "1", "Student key/value heads.");
    key(w, "subword.student-hidden", "64", "32", "Student width.");
    key(w, "subword.student-intermediate", "176", "88", "Student SwiGLU inner width.");
    key(w, "subword.student-steps", "1500", "60", "Student optimiser steps.");
    key(w, "subword.student-batch", "32", "16", "Student batch size (sequences).");
    key(w, "subword.eval-windows", "200", "24", "Windows of held-out text evaluated.");
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
}
