package dev.distill.deploy.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

class DemoConfigTest {

  @Test
  void unknownKeyFailsAndNamesTheKey() {
    assertThatThrownBy(() -> DemoConfig.from(Map.of("teacher.layer", "4")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("teacher.layer");
  }

  @Test
  void badNumberNamesTheKey() {
    assertRefused("student.steps", "many", "student.steps");
  }

  @Test
  void eachKeysDeclaredRangeIsCheckedWhenParsedEvenForKeysOfOtherCommands() {
    assertRefused("student.alpha", "1.5", "student.alpha must be in [0, 1], got 1.5");
    assertRefused("train.patience", "-1", "train.patience must be >= 0, got -1");
    assertRefused("arith.require-gold", "yes", "arith.require-gold must be true or false");
  }

  @Test
  void quickLowersTheSizes() {
    DemoConfig quick = DemoConfig.from(Map.of("run.quick", "true"));
    DemoConfig full = DemoConfig.from(Map.of());
    assertThat(quick.teacherSteps()).isLessThan(full.teacherSteps());
    assertThat(full.teacherLayers()).isEqualTo(4);
    assertThat(full.teacherEmbd()).isEqualTo(128);
  }

  @Test
  void toMapRoundTrips() {
    DemoConfig c = DemoConfig.from(Map.of("label.top-k", "16", "run.id", "x"));
    assertThat(DemoConfig.from(c.toMap())).isEqualTo(c);
  }

  @Test
  void shippedPipelineConfIsValidAndEqualsTheDefaults() throws IOException {
    Path conf = Path.of("..", "conf", "pipeline.conf");
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(conf)) {
      p.load(r);
    }
    Map<String, String> m = new HashMap<>();
    p.stringPropertyNames().forEach(k -> m.put(k, p.getProperty(k)));
    assertThat(DemoConfig.from(m)).isEqualTo(DemoConfig.from(Map.of()));
  }

  @Test
  void runIdMustBeAFolderName() {
    assertRefused("run.id", "../etc", "run.id");
  }

  @Test
  void defaultRunReplacesTheCharWorkloadWithTheSubwordOneAndQuickRunsAllThree() {
    DemoConfig full = DemoConfig.from(Map.of());
    assertThat(full.workloads()).containsExactly(DemoConfig.BPE, DemoConfig.ARITHMETIC);
    assertThat(full.runs(DemoConfig.CHAR)).isFalse();
    assertThat(DemoConfig.from(Map.of("run.quick", "true")).workloads())
        .containsExactly(DemoConfig.CHAR, DemoConfig.BPE, DemoConfig.ARITHMETIC);
    DemoConfig charOnly = DemoConfig.from(Map.of("run.workloads", "shakespeare-char"));
    assertThat(charOnly.runs(DemoConfig.CHAR)).isTrue();
    assertThat(charOnly.runs(DemoConfig.BPE)).isFalse();
    // arith.enabled = false still turns the arithmetic workload off
    assertThat(DemoConfig.from(Map.of("arith.enabled", "false")).runs(DemoConfig.ARITHMETIC))
        .isFalse();
  }

  @Test
  void unknownRepeatedOrNoWorkloadFailsNamingTheKey() {
    assertThatThrownBy(() -> DemoConfig.from(Map.of("run.workloads", "shakespeare")))
        .hasMessageContaining("run.workloads")
        .hasMessageContaining("shakespeare-bpe");
    assertRefused("run.workloads", "arithmetic,arithmetic", "twice");
    assertRefused("run.workloads", "arithmetic", "has no text workload");
    assertRefused("run.workloads", " ", "empty");
  }

  @Test
  void subwordHeadsMustDivideTheWidthAndTheKeyValueHeadsTheHeads() {
    assertRefused("subword.student-heads", "3", "subword.student-hidden 64 is not a multiple of");
    assertRefused("subword.teacher-kv-heads", "3", "subword.teacher-heads 4 is not a multiple of");
  }

  /**
   * {@code key = value} alone on the defaults is refused with a message containing {@code part}.
   */
  private static void assertRefused(String key, String value, String part) {
    assertThatThrownBy(() -> DemoConfig.from(Map.of(key, value)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(part);
  }
}
