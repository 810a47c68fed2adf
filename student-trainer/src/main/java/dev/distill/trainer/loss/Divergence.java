package dev.distill.trainer.loss;

import ai.djl.ndarray.NDArray;
import dev.distill.models.autograd.Scalars;
import java.util.Locale;

/**
 * A divergence D(P_T, P_S) between a teacher distribution P (= P_T) and a student distribution Q (=
 * P_S) over the last axis, per docs/architecture.md "Loss conventions". Every formula is evaluated
 * in float32 and the result is clamped at 0 (rounding can make an exact 0 slightly negative; a
 * divergence never is).
 *
 * <ul>
 *   <li>{@link Kind#FORWARD_KL}: {@code KL(P || Q) = sum P (log P - log Q)} (teacher first).
 *   <li>{@link Kind#REVERSE_KL}: {@code KL(Q || P) = sum Q (log Q - log P)}.
 *   <li>{@link Kind#JSD}: generalized JSD(beta) of GKD (Agarwal et al. 2024, arXiv:2306.13649):
 *       {@code M = beta P + (1 - beta) Q} (formed in probability space through a two-term
 *       log-sum-exp, never by mixing log-probabilities), {@code L = beta KL(P || M) + (1 - beta)
 *       KL(Q || M)}. beta = 0 and beta = 1 are defined as forward and reverse KL (GKD's reference
 *       code; the limits of JSD(beta)/beta and JSD(beta)/(1-beta)).
 *   <li>{@link Kind#SKEW_FORWARD_KL}: DistiLLM's skew KL (Ko et al. 2024, "DistiLLM: Towards
 *       Streamlined Distillation for Large Language Models", arXiv:2402.03898, eq. 3): {@code KL(P
 *       || a P + (1 - a) Q)}; a = 0 is forward KL. Bounded by {@code -log a} for a > 0.
 *   <li>{@link Kind#SKEW_REVERSE_KL}: DistiLLM's skew reverse KL, {@code KL(Q || a Q + (1 - a) P)};
 *       a = 0 is reverse KL.
 *   <li>{@link Kind#TOTAL_VARIATION}: {@code TV(P, Q) = 1/2 sum |P - Q|} (Wen et al. 2023,
 *       "f-Divergence Minimization for Sequence-Level Knowledge Distillation", arXiv:2307.15190),
 *       in [0, 1].
 * </ul>
 *
 * <p>Inputs are the probabilities and log-probabilities of both sides. Zero teacher probabilities
 * are allowed ({@code 0 log 0 = 0}); the teacher's log-probabilities must then be floored (the
 * callers use {@code log max(p, 1e-30)}), so reverse KL stays finite.
 *
 * @param kind which divergence
 * @param param beta for {@link Kind#JSD} (in [0, 1]), the skew a for the skew KLs (in [0, 1)),
 *     ignored (0) for the others
 */
public record Divergence(Kind kind, float param) {

  /** The divergences of issue 5. */
  public enum Kind {
    FORWARD_KL("forward_kl"),
    REVERSE_KL("reverse_kl"),
    JSD("jsd"),
    SKEW_FORWARD_KL("skew_forward_kl"),
    SKEW_REVERSE_KL("skew_reverse_kl"),
    TOTAL_VARIATION("total_variation");

    private final String id;

    Kind(String id) {
      this.id = id;
    }

    /** The name used in configs and run metadata. */
    public String id() {
      return id;
    }
  }

  public static final Divergence FORWARD_KL = new Divergence(Kind.FORWARD_KL, 0f);
  public static final Divergence REVERSE_KL = new Divergence(Kind.REVERSE_KL, 0f);
  public static final Divergence TOTAL_VARIATION = new Divergence(Kind.TOTAL_VARIATION, 0f);

  public Divergence {
    java.util.Objects.requireNonNull(kind, "kind");
    switch (kind) {
      case JSD -> {
        if (!(param >= 0f && param <= 1f)) {
          throw new IllegalArgumentException("JSD beta must be in [0, 1], got " + param);
        }
      }
      case SKEW_FORWARD_KL, SKEW_REVERSE_KL -> {
        if (!(param >= 0f && param < 1f)) {
          throw new IllegalArgumentException("skew KL alpha must be in [0, 1), got " + param);
        }
      }
      default -> {
        if (param != 0f) {
          throw new IllegalArgumentException(kind.id() + " takes no parameter, got " + param);
        }
      }
    }
  }

  public static Divergence jsd(float beta) {
    return new Divergence(Kind.JSD, beta);
  }

  public static Divergence skewForwardKl(float alpha) {
    return new Divergence(Kind.SKEW_FORWARD_KL, alpha);
  }

  public static Divergence skewReverseKl(float alpha) {
    return new Divergence(Kind.SKEW_REVERSE_KL, alpha);
  }

  /**
   * Parses {@link #name()}: {@code forward_kl}, {@code reverse_kl}, {@code total_variation}, {@code
   * jsd:<beta>}, {@code skew_forward_kl:<a>}, {@code skew_reverse_kl:<a>}.
   *
   * @throws IllegalArgumentException naming the text and the accepted forms
   */
  public static Divergence parse(String text) {
    String s = text.trim().toLowerCase(Locale.ROOT);
    String head = s;
    float param = 0f;
    int colon = s.indexOf(':');
    if (colon >= 0) {
      head = s.substring(0, colon);
      try {
        param = Float.parseFloat(s.substring(colon + 1));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("divergence '" + text + "': bad parameter", e);
      }
    }
    for (Kind k : Kind.values()) {
      if (k.id().equals(head)) {
        boolean needsParam =
            k == Kind.JSD || k == Kind.SKEW_FORWARD_KL || k == Kind.SKEW_REVERSE_KL;
        if (needsParam && colon < 0) {
          throw new IllegalArgumentException(
              "divergence '" + text + "' needs a parameter, e.g. " + k.id() + ":0.5");
        }
        return new Divergence(k, param);
      }
    }
    throw new IllegalArgumentException(
        "unknown divergence '"
            + text
            + "'; expected forward_kl, reverse_kl, total_variation, jsd:<beta>,"
            + " skew_forward_kl:<a> or skew_reverse_kl:<a>");
  }

  /** The name recorded in run metadata, e.g. {@code jsd:0.5}; {@link #parse} reads it back. */
  public String name() {
    return switch (kind) {
      case JSD, SKEW_FORWARD_KL, SKEW_REVERSE_KL -> kind.id() + ":" + param;
      default -> kind.id();
    };
  }

  /**
   * D(P, Q) summed over the last axis (one value per position), clamped at 0.
   *
   * @param p teacher probabilities (no gradient expected)
   * @param logP teacher log-probabilities, finite (floored where p = 0)
   * @param q student probabilities, {@code exp(logQ)}
   * @param logQ student log-probabilities, finite
   */
  public NDArray between(NDArray p, NDArray logP, NDArray q, NDArray logQ) {
    NDArray d =
        switch (kind) {
          case FORWARD_KL -> kl(p, logP, logQ);
          case REVERSE_KL -> kl(q, logQ, logP);
          case JSD -> {
            if (param == 0f) {
              yield kl(p, logP, logQ);
            }
            if (param == 1f) {
              yield kl(q, logQ, logP);
            }
            NDArray logM = logMix(logP, param, logQ);
            yield Scalars.mul(kl(p, logP, logM), param)
                .add(Scalars.mul(kl(q, logQ, logM), 1f - param));
          }
          case SKEW_FORWARD_KL ->
              param == 0f ? kl(p, logP, logQ) : kl(p, logP, logMix(logP, param, logQ));
          case SKEW_REVERSE_KL ->
              param == 0f ? kl(q, logQ, logP) : kl(q, logQ, logMix(logQ, param, logP));
          case TOTAL_VARIATION -> Scalars.mul(p.sub(q).abs().sum(new int[] {-1}), 0.5f);
        };
    return Scalars.maximum(d, 0f);
  }

  /** {@code sum a (logA - logB)} over the last axis; terms with a = 0 are 0. */
  private static NDArray kl(NDArray a, NDArray logA, NDArray logB) {
    return a.mul(logA.sub(logB)).sum(new int[] {-1});
  }

  /** {@code log(w exp(logA) + (1 - w) exp(logB))} for w in (0, 1), by a two-term log-sum-exp. */
  private static NDArray logMix(NDArray logA, float w, NDArray logB) {
    NDArray a = logA.add((float) Math.log(w));
    NDArray b = logB.add((float) Math.log(1.0 - w));
    NDArray hi = a.maximum(b).stopGradient();
    return a.sub(hi).exp().add(b.sub(hi).exp()).log().add(hi);
  }
}
