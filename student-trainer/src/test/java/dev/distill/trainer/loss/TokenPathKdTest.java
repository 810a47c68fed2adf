package dev.distill.trainer.loss;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.trainer.NDManagerPerTest;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TokenPathKdTest extends NDManagerPerTest {
  // Student tokens a=0, b=1, ab=2, ba=3; teacher characters a=0, b=1.
  private static final String[] STUDENT = {"a", "b", "ab", "ba"};
  private static final char[] TEACHER = {'a', 'b'};
  private static final SpanAlignedKd.Buckets COLUMNS =
      SpanAlignedKd.Buckets.of(new String[] {"a", "b"}, STUDENT);
  // "ab" tokenized as one token: after a token "a", a "b" follows without a boundary once:
  // beta(a) = (0 + 1) / (1 + 1) = 0.5, beta(a, b) = (0 + 2 * 0.5) / (1 + 2) = 1/3,
  // beta(a, a) = 0.5 (no count: the prior); every other token's rates are 1.
  private static final SpanAlignedKd.BoundaryRates RATES =
      SpanAlignedKd.BoundaryRates.estimate(COLUMNS, STUDENT, List.of("ab"), List.of(new int[] {2}));
  // Teacher position 0 (first character of the student's next token): a 0.6, b 0.3, tail 0.1;
  // position 1 (after "a"): b 0.7, a 0.2, tail 0.1.
  private static final SoftLabels LABELS =
      new SoftLabels(
          2,
          2,
          new int[] {0, 1, 1, 0},
          new float[] {0.6f, 0.3f, 0.7f, 0.2f},
          new float[] {0.1f, 0.1f});

  private static TokenPathKd.Path abAfterB() {
    return TokenPathKd.path(
        new TokenPathKd.Vocabulary(STUDENT), TEACHER, COLUMNS, RATES, LABELS, 1, 2, 1);
  }

  @Test
  void teacherMassesFollowTheRealisedTokensCharactersByTheChainRule() {
    // Next token "ab". Level 0: E(0, b) = 0.3, R(0) = 0.1, path 0.6. Level 1 (after "a", a
    // token): "v = a" gets 0.6 * (0.7 * 1/3 + 0.2 * 0.5 + 0.1 * 0.5) = 0.23; E(1, a) = 0.6 * 0.2 *
    // 0.5 = 0.06 and R(1) = 0.6 * 0.1 * 0.5 = 0.03 hold no student token ("aa..." is none), so
    // they go to "v = a": 0.32; the leaf "starts with ab" 0.6 * 0.7 * 2/3 = 0.28. R(0) holds no
    // token either and level 0 has no "v = (empty)": dropped, the rest renormalised by 0.9.
    assertThat(RATES.rate(0, COLUMNS.column('b'))).isCloseTo(1f / 3, within(1e-6f));
    TokenPathKd.Path p = abAfterB();

    assertThat(p.teacher()[0]).isCloseTo(0.3f / 0.9f, within(1e-6f)); // b, ba
    assertThat(p.teacher()[1]).isCloseTo(0.32f / 0.9f, within(1e-6f)); // a
    assertThat(p.teacher()[2]).isCloseTo(0.28f / 0.9f, within(1e-6f)); // ab
    assertThat(p.perm()).containsExactly(1, 3, 0, 2);
    assertThat(p.starts()).containsExactly(0, 2, 3);
    assertThat(p.ends()).containsExactly(2, 3, 4);
  }

  private TokenPathKd.Arrays arrays(TokenPathKd.Path p) {
    long[] perm = new long[4];
    long[] starts = new long[3];
    long[] ends = new long[3];
    for (int i = 0; i < 4; i++) {
      perm[i] = p.perm()[i];
    }
    for (int i = 0; i < 3; i++) {
      starts[i] = p.starts()[i];
      ends[i] = p.ends()[i];
    }
    return new TokenPathKd.Arrays(
        manager.create(new long[] {1}, new Shape(1, 1)),
        manager.create(perm, new Shape(1, 1, 4)),
        manager.create(starts, new Shape(1, 1, 3)),
        manager.create(ends, new Shape(1, 1, 3)),
        manager.create(p.teacher(), new Shape(1, 1, 3)));
  }

  @Test
  void forwardKlAgainstTheStudentsBucketSumsIsHandComputed() {
    // position 1 of the student: probabilities (0.1, 0.2, 0.3, 0.4) -> buckets (0.6, 0.1, 0.3)
    TokenPathKd.Arrays a = arrays(abAfterB());
    NDArray logits =
        manager.create(
            new float[] {
              5f,
              0f,
              0f,
              0f,
              (float) Math.log(0.1),
              (float) Math.log(0.2),
              (float) Math.log(0.3),
              (float) Math.log(0.4)
            },
            new Shape(1, 2, 4));
    NDArray d = TokenPathKd.perPosition(Divergence.FORWARD_KL, logits, a, 1f);

    double p0 = 0.3 / 0.9;
    double p1 = 0.32 / 0.9;
    double p2 = 0.28 / 0.9;
    double expected = p0 * Math.log(p0 / 0.6) + p1 * Math.log(p1 / 0.1) + p2 * Math.log(p2 / 0.3);
    assertThat(d.getFloat(0, 0)).isCloseTo((float) expected, within(1e-5f));
  }

  @Test
  void gradientMatchesFiniteDifferencesAndIsTemperatureSquaredScaled() {
    TokenPathKd.Arrays a = arrays(abAfterB());
    float[] z = FiniteDifferences.gaussian(new Random(5), 2 * 4, 1f);
    float temp = 2f;
    java.util.function.Function<NDArray, NDArray> f =
        logits ->
            TokenPathKd.loss(Divergence.FORWARD_KL, logits, a, manager.ones(new Shape(1, 1)), temp);
    float[] grad = FiniteDifferences.autograd(manager, z, new Shape(1, 2, 4), f::apply);
    FiniteDifferences.assertMatches(
        grad, z, x -> f.apply(manager.create(x, new Shape(1, 2, 4))).getFloat(), 1e-2f, 3e-3, "");
    for (int j = 0; j < 4; j++) {
      assertThat(grad[j]).isZero(); // position 0 predicts no path
    }
    assertThat(grad[4]).isNotZero();
    float scaled = f.apply(manager.create(z, new Shape(1, 2, 4))).getFloat();
    float per =
        TokenPathKd.perPosition(
                Divergence.FORWARD_KL, manager.create(z, new Shape(1, 2, 4)), a, temp)
            .getFloat(0, 0);
    assertThat(scaled).isCloseTo(temp * temp * per, within(1e-5f));
  }
}
