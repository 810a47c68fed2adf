package dev.distill.models.gpt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class GptConfigTest {

  private static final GptConfig BABY = new GptConfig(65, 64, 4, 4, 128, 0.1f);

  @Test
  void rejectsNonPositiveSizes() {
    assertThatThrownBy(() -> new GptConfig(0, 64, 4, 4, 128, 0f))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("vocabSize");
    assertThatThrownBy(() -> new GptConfig(65, -1, 4, 4, 128, 0f))
        .hasMessageContaining("blockSize");
    assertThatThrownBy(() -> new GptConfig(65, 64, 0, 4, 128, 0f)).hasMessageContaining("nLayer");
    assertThatThrownBy(() -> new GptConfig(65, 64, 4, 0, 128, 0f)).hasMessageContaining("nHead");
    assertThatThrownBy(() -> new GptConfig(65, 64, 4, 4, 0, 0f)).hasMessageContaining("nEmbd");
  }

  @Test
  void rejectsWidthNotDivisibleByHeads() {
    assertThatThrownBy(() -> new GptConfig(65, 64, 4, 3, 128, 0f))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("divisible");
  }

  @Test
  void rejectsDropoutOutsideZeroToOne() {
    assertThatThrownBy(() -> new GptConfig(65, 64, 4, 4, 128, 1f)).hasMessageContaining("dropout");
    assertThatThrownBy(() -> new GptConfig(65, 64, 4, 4, 128, -0.1f))
        .hasMessageContaining("dropout");
    assertThatThrownBy(() -> new GptConfig(65, 64, 4, 4, 128, Float.NaN))
        .hasMessageContaining("dropout");
  }

  @Test
  void parameterCountMatchesNanoGptFormula() {
    // nanoGPT counts 0.80M for this config without wpe: 12*4*128^2 + 13*4*128 + 65*128 + 2*128.
    long c = 128;
    long expected = 65 * c + 64 * c + 4 * (12 * c * c + 13 * c) + 2 * c;
    assertThat(BABY.parameterCount()).isEqualTo(expected).isEqualTo(809_856L);
  }

  @Test
  void jsonRoundTrips() {
    String json = BABY.toJson();
    assertThat(json).contains("\"dropout\":0.1");
    assertThat(GptConfig.fromJson(json)).isEqualTo(BABY);
  }

  @Test
  void unknownJsonKeyIsNamed() {
    String json = BABY.toJson().replace("}", ",\"bias\":true}");
    assertThatThrownBy(() -> GptConfig.fromJson(json))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'bias'");
  }

  @Test
  void missingJsonKeyIsNamed() {
    String json = "{\"vocabSize\":65,\"blockSize\":64,\"nLayer\":4,\"nEmbd\":128,\"dropout\":0}";
    assertThatThrownBy(() -> GptConfig.fromJson(json))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'nHead'");
  }

  @Test
  void fractionalOrStringSizesAreRejected() {
    assertThatThrownBy(
            () -> GptConfig.fromJson(BABY.toJson().replace("\"nLayer\":4", "\"nLayer\":4.5")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'nLayer'");
    assertThatThrownBy(
            () -> GptConfig.fromJson(BABY.toJson().replace("\"nHead\":4", "\"nHead\":\"4\"")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'nHead'");
  }

  @Test
  void malformedJsonIsAnIllegalArgument() {
    assertThatThrownBy(() -> GptConfig.fromJson("{not json"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> GptConfig.fromJson("[1,2]"))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
