package dev.distill.deploy.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/** The {@code /proc/self/status} parser behind each stage's peak RSS (issue 13, ask 5). */
class PeakRssTest {
  /** The lines around VmHWM as a Linux 6.x kernel writes them, tabs and padding included. */
  private static final String STATUS =
      "Name:\tjava\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t 9876543 kB\n"
          + "VmSize:\t 9123456 kB\nVmLck:\t       0 kB\nVmHWM:\t  834560 kB\nVmRSS:\t  801234 kB\n"
          + "Threads:\t42\n";

  @Test
  void readsTheHighWaterMarkInKilobytesNotThePeakVirtualSizeOrTheCurrentRss() {
    assertThat(PeakRss.vmHwmKb(STATUS)).hasValue(834560L);
  }

  @Test
  void anAbsentOrMalformedLineGivesNothingSoTheCallerFallsBackToTheHeap() {
    assertThat(PeakRss.vmHwmKb("Name:\tjava\nVmRSS:\t 1 kB\n")).isEqualTo(OptionalLong.empty());
    assertThat(PeakRss.vmHwmKb("VmHWM:\t  834560 MB\n")).isEmpty();
    assertThat(PeakRss.vmHwmKb("VmHWM:\t  lots kB\n")).isEmpty();
    assertThat(PeakRss.vmHwmKb("VmHWM:\n")).isEmpty();
    assertThat(PeakRss.vmHwmKb("")).isEmpty();
  }

  @Test
  void aStageThatAllocatesReportsAPeakAtLeastAsLargeAsWhatItHeld() {
    PeakRss rss = PeakRss.start();
    byte[] held = new byte[64 << 20];
    java.util.Arrays.fill(held, (byte) 1); // touch every page so it is resident
    PeakRss.Sample peak = rss.stop();
    assertThat(peak.source()).isIn(PeakRss.VM_HWM, PeakRss.JVM_HEAP);
    assertThat(peak.megabytes()).isGreaterThanOrEqualTo(64.0);
    assertThat(held[held.length - 1]).isEqualTo((byte) 1);
  }
}
