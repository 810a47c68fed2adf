package dev.distill.deploy.workloads;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class ArithmeticTaskTest {

  @Test
  void additionRationaleCarriesDigitByDigit() {
    ArithmeticTask.Problem p = ArithmeticTask.solve("+", 3, 347, 285);
    assertThat(p.text()).isEqualTo("347+285=\n7+5+0=12 c1\n4+8+1=13 c1\n3+2+1=6 c0\nA 632.\n");
  }

  @Test
  void subtractionRationaleBorrows() {
    ArithmeticTask.Problem p = ArithmeticTask.solve("-", 3, 502, 127);
    assertThat(p.rationale()).isEqualTo("2-7-0=5 b1\n0-2-1=7 b1\n5-1-1=3 b0\n");
    assertThat(p.answer()).isEqualTo(375);
  }

  @Test
  void multiplicationByOneDigitCarries() {
    ArithmeticTask.Problem p = ArithmeticTask.solve("*", 2, 47, 6);
    assertThat(p.rationale()).isEqualTo("7*6+0=42 c4\n4*6+4=28 c2\n");
    assertThat(p.answer()).isEqualTo(282);
  }

  @Test
  void generatedProblemsAreCorrectSeededAndWithinTheDigitRange() {
    List<ArithmeticTask.Problem> a = ArithmeticTask.generate(7, 500, 1, 4, List.of("+", "-", "*"));
    assertThat(ArithmeticTask.generate(7, 500, 1, 4, List.of("+", "-", "*"))).isEqualTo(a);
    for (ArithmeticTask.Problem p : a) {
      long expected =
          switch (p.op()) {
            case "+" -> p.a() + p.b();
            case "-" -> p.a() - p.b();
            default -> p.a() * p.b();
          };
      assertThat(p.answer()).isEqualTo(expected).isNotNegative();
      assertThat(Long.toString(p.a()).length()).isEqualTo(p.digits());
      assertThat(ArithmeticTask.extractAnswer(p.text())).isEqualTo(expected);
    }
  }

  @Test
  void answerExtractionNeedsTheAnswerLine() {
    assertThat(ArithmeticTask.extractAnswer("7+5+0=12 c1\n")).isNull();
    assertThat(ArithmeticTask.extractAnswer("xx\nA 12.\n")).isEqualTo(12L);
  }

  @Test
  void everyGoldRationaleImpliesItsAnswer() {
    for (ArithmeticTask.Problem p :
        ArithmeticTask.generate(11, 300, 1, 5, List.of("+", "-", "*"))) {
      assertThat(ArithmeticTask.answerFromRationale(p.rationale()))
          .as(p.text())
          .isEqualTo(Long.toString(p.answer()));
    }
  }

  @Test
  void aWrongStepImpliesAnotherAnswerAndGarbageImpliesNone() {
    assertThat(ArithmeticTask.answerFromRationale("7+5+0=12 c1\n4+8+1=14 c1\n3+2+1=6 c0\n"))
        .isEqualTo("642");
    assertThat(ArithmeticTask.answerFromRationale("hello\n")).isNull();
    assertThat(ArithmeticTask.answerFromRationale("")).isNull();
  }

  @Test
  void badDigitRangesAreRefused() {
    assertThatThrownBy(() -> ArithmeticTask.generate(1, 1, 3, 2, List.of("+")))
        .hasMessageContaining("digits");
  }
}
