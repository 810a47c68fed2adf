package dev.distill.models.gpt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import dev.distill.models.tokenizer.CharTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class GptTest {

  private static final CharTokenizer TOKENIZER =
      CharTokenizer.fromCorpus("abcdefghijklmnopqrstuvwxyz .,");
  private static final GptConfig CONFIG = new GptConfig(TOKENIZER.vocabSize(), 16, 2, 2, 32, 0f);
  @RegisterExtension static final TinyModel MODEL = new TinyModel(CONFIG, TOKENIZER, 42);

  @Test
  void parameterCountEqualsTheScalarsInTheBlock() {
    long actual = 0;
    for (Pair<String, Parameter> p : MODEL.lm().block().getParameters()) {
      actual += p.getValue().getArray().size();
    }
    assertThat(actual).isEqualTo(CONFIG.parameterCount());
    assertThat(MODEL.lm().block().getParameters().size()).isEqualTo(2 + 12 * CONFIG.nLayer() + 2);
  }

  @Test
  void parametersAreInitialisedAsNanoGpt() {
    for (Pair<String, Parameter> p : MODEL.lm().block().getParameters()) {
      float[] v = p.getValue().getArray().toFloatArray();
      switch (p.getValue().getType()) {
        case GAMMA -> assertThat(v).as(p.getKey()).containsOnly(1f);
        case BETA, BIAS -> assertThat(v).as(p.getKey()).containsOnly(0f);
        case WEIGHT -> {
          double sumSq = 0;
          for (float x : v) {
            sumSq += x * x;
          }
          assertThat(Math.sqrt(sumSq / v.length)).as(p.getKey()).isBetween(0.015, 0.025);
        }
        default -> throw new AssertionError("unexpected type " + p.getValue().getType());
      }
    }
  }

  @Test
  void sameSeedGivesSameParametersAndAnotherSeedDifferent() {
    try (LanguageModel same = LanguageModel.create(CONFIG, TOKENIZER, 42);
        LanguageModel other = LanguageModel.create(CONFIG, TOKENIZER, 43)) {
      assertThat(same.parametersSha256()).isEqualTo(MODEL.lm().parametersSha256());
      assertThat(other.parametersSha256()).isNotEqualTo(MODEL.lm().parametersSha256());
    }
  }

  @Test
  void logitsHaveShapeBatchTimeVocabAndAreFloat32() {
    try (NDManager manager = NDManager.newBaseManager()) {
      NDArray logits = MODEL.lm().logits(manager, new int[][] {{1, 2, 3, 4, 5}, {5, 4, 3, 2, 1}});
      assertThat(logits.getShape()).isEqualTo(new Shape(2, 5, CONFIG.vocabSize()));
      assertThat(logits.getDataType()).isEqualTo(DataType.FLOAT32);
      assertThat(logits.getManager()).isSameAs(manager);
      assertThat(logits.hasGradient()).isFalse();
    }
  }

  @Test
  void changingALaterTokenDoesNotChangeEarlierLogits() {
    int[] a = {3, 1, 4, 1, 5, 9, 2, 6};
    int[] b = a.clone();
    b[5] = 7;
    try (NDManager manager = NDManager.newBaseManager()) {
      NDArray la = MODEL.lm().logits(manager, new int[][] {a});
      NDArray lb = MODEL.lm().logits(manager, new int[][] {b});
      NDArray earlyA = la.get(new NDIndex("0, :5, :"));
      NDArray earlyB = lb.get(new NDIndex("0, :5, :"));
      assertThat(earlyA.toFloatArray()).containsExactly(earlyB.toFloatArray());
      NDArray lateA = la.get(new NDIndex("0, 5:, :"));
      NDArray lateB = lb.get(new NDIndex("0, 5:, :"));
      assertThat(lateA.sub(lateB).abs().max().getFloat()).isGreaterThan(1e-6f);
    }
  }

  @Test
  void int32AndInt64TokensGiveTheSameLogits() {
    try (NDManager manager = NDManager.newBaseManager()) {
      int[] ids = {0, 5, 10, 15, 20};
      NDArray x32 = manager.create(ids, new Shape(1, 5));
      NDArray x64 = x32.toType(DataType.INT64, false);
      ParameterStore ps = new ParameterStore(manager, false);
      NDArray l32 = MODEL.lm().block().forward(ps, new NDList(x32), false).singletonOrThrow();
      NDArray l64 = MODEL.lm().block().forward(ps, new NDList(x64), false).singletonOrThrow();
      assertThat(l32.toFloatArray()).containsExactly(l64.toFloatArray());
      assertThat(l32.getManager()).isSameAs(manager);
    }
  }

  @Test
  void sequencesLongerThanTheBlockAreRejected() {
    try (NDManager manager = NDManager.newBaseManager()) {
      assertThatThrownBy(
              () -> MODEL.lm().logits(manager, new int[][] {new int[CONFIG.blockSize() + 1]}))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("blockSize");
      assertThatThrownBy(() -> MODEL.lm().logits(manager, new int[][] {{1, 2}, {3}}))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> MODEL.lm().logits(manager, new int[][] {{1, CONFIG.vocabSize()}}))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void inferenceForwardLeavesNothingOnTheModelManager() {
    int before = MODEL.lm().model().getNDManager().getManagedArrays().size();
    try (NDManager manager = NDManager.newBaseManager()) {
      MODEL.lm().logits(manager, new int[][] {{1, 2, 3}});
    }
    assertThat(MODEL.lm().model().getNDManager().getManagedArrays()).hasSize(before);
  }

  @Test
  void tokenizerAndConfigMustAgreeOnVocabSize() {
    GptConfig wrong = new GptConfig(TOKENIZER.vocabSize() + 1, 16, 1, 1, 8, 0f);
    assertThatThrownBy(() -> LanguageModel.create(wrong, TOKENIZER, 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("vocabSize");
  }
}
