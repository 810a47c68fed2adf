package dev.distill.trainer.training;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ProgressPrinterTest {
  private static final long SECOND = 1_000_000_000L;

  private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
  private final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
  private final AtomicLong now = new AtomicLong();

  private String printed() {
    return bytes.toString(StandardCharsets.UTF_8);
  }

  @Test
  void inALogItPrintsAFullLineAtMostEveryIntervalAndAlwaysTheLastStep() {
    ProgressPrinter p = new ProgressPrinter(out, "train s", false, 10 * SECOND, now::get);
    for (int step = 1; step <= 100; step++) {
      now.addAndGet(SECOND); // one step per second: lines at steps 1, 11, 21, ... and 100
      p.onStep(step, 100, 2.5, step >= 50 ? 2.25 : Double.NaN, 1234.4);
    }
    String[] lines = printed().split("\n");
    assertThat(lines).hasSize(11);
    assertThat(lines[0])
        .isEqualTo("[train s] 1/100 loss 2.5000 val - 1,234 tok/s elapsed 1s eta 1m39s");
    assertThat(lines[1]).startsWith("[train s] 11/100 ");
    assertThat(lines[10])
        .isEqualTo("[train s] 100/100 loss 2.5000 val 2.2500 1,234 tok/s elapsed 1m40s eta 0s");
    assertThat(printed()).doesNotContain("\r").doesNotContain("NaN");
  }

  @Test
  void onAConsoleItRedrawsOneBarInPlaceAndEndsTheLineAtTheLastStep() {
    ProgressPrinter p = new ProgressPrinter(out, "t", true, 10 * SECOND, now::get);
    now.addAndGet(SECOND);
    p.onStep(1, 4, 3.0, Double.NaN, 10);
    now.addAndGet(SECOND);
    p.onStep(2, 4, 2.0, Double.NaN, 10);
    now.addAndGet(SECOND);
    p.onStep(4, 4, 1.0, 1.5, 10);
    String s = printed();
    assertThat(s).startsWith("\r[t] |######                  | 1/4 loss 3.0000 val -");
    assertThat(s).contains("\r[t] |############            | 2/4 ");
    assertThat(s).contains("\r[t] |########################| 4/4 loss 1.0000 val 1.5000");
    assertThat(s.chars().filter(c -> c == '\n').count()).isEqualTo(1);
    assertThat(s).endsWith("\n");
  }

  @Test
  void durationsReadAsHoursMinutesAndSeconds() {
    assertThat(ProgressPrinter.duration(12.4)).isEqualTo("12s");
    assertThat(ProgressPrinter.duration(185)).isEqualTo("3m05s");
    assertThat(ProgressPrinter.duration(3720)).isEqualTo("1h02m");
    assertThat(ProgressPrinter.duration(Double.NaN)).isEqualTo("-");
  }
}
