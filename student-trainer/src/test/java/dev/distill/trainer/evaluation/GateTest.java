package dev.distill.trainer.evaluation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class GateTest {
  private static final Map<String, Double> METRICS =
      Map.of(
          "teacher.val_loss", 1.70,
          "student.val_loss", 1.80,
          "students.kd-student.top1_agreement", 0.8);

  @Test
  void passesWhenTheStudentIsWithinTheMargin() {
    Gate.Outcome o = Gate.parse("student.val_loss <= teacher.val_loss + 0.15").evaluate(METRICS);
    assertThat(o.passed()).isTrue();
    assertThat(o.left()).isEqualTo(1.80);
    assertThat(o.right()).isCloseTo(1.85, org.assertj.core.api.Assertions.within(1e-12));
  }

  @Test
  void failsWhenTheStudentIsOutsideTheMargin() {
    assertThat(Gate.parse("student.val_loss <= teacher.val_loss + 0.05").evaluate(METRICS).passed())
        .isFalse();
  }

  @Test
  void supportsEveryComparisonAndSubtraction() {
    assertThat(Gate.parse("students.kd-student.top1_agreement > 0.5").evaluate(METRICS).passed())
        .isTrue();
    assertThat(Gate.parse("student.val_loss - teacher.val_loss < 0.2").evaluate(METRICS).passed())
        .isTrue();
    assertThat(Gate.parse("teacher.val_loss >= 2").evaluate(METRICS).passed()).isFalse();
    assertThat(Gate.parse("1 == 1.0").evaluate(METRICS).passed()).isTrue();
    assertThat(Gate.parse("1 != 1").evaluate(METRICS).passed()).isFalse();
  }

  @Test
  void unknownMetricIsAnErrorNotAPass() {
    assertThatThrownBy(() -> Gate.parse("student.val_los <= 2").evaluate(METRICS))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("student.val_los");
  }

  @Test
  void malformedGatesAreRefusedWithTheirText() {
    assertThatThrownBy(() -> Gate.parse("student.val_loss")).hasMessageContaining("comparison");
    assertThatThrownBy(() -> Gate.parse("a <= b c")).hasMessageContaining("missing + or -");
    assertThatThrownBy(() -> Gate.parse("a <= $")).hasMessageContaining("cannot read");
  }
}
