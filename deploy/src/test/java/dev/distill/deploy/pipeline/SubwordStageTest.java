package dev.distill.deploy.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.distill.models.hf.HfConfig;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.models.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SubwordStageTest {

  @TempDir Path tmp;

  @Test
  void defaultSizesGiveALlamaTeacherWithGroupedQueryAttentionAndAStudentOfAboutAQuarter()
      throws Exception {
    SubwordConfig w = DemoConfig.from(Map.of()).subword();
    try (Tokenizer tok = SubwordStage.bundledTokenizer(tmp.resolve("tok"))) {
      assertThat(tok.vocabSize()).isEqualTo(660);
      HfConfig teacher = SubwordStage.teacherConfig(w, tok);
      assertThat(teacher.family()).isEqualTo(HfConfig.Family.LLAMA);
      assertThat(teacher.architecture()).isEqualTo("LlamaForCausalLM");
      assertThat(teacher.activation()).isEqualTo("silu");
      assertThat(teacher.nKvHead()).isLessThan(teacher.nHead());
      assertThat(teacher.tiedEmbeddings()).isFalse();
      assertThat(teacher.vocabSize()).isEqualTo(660);
      assertThat(teacher.blockSize()).isEqualTo(w.blockSize());
      HfConfig student = SubwordStage.studentConfig(w, teacher);
      assertThat(student.family()).isEqualTo(HfConfig.Family.LLAMA);
      assertThat(student.nKvHead()).isLessThan(student.nHead());
      double ratio = (double) student.parameterCount() / teacher.parameterCount();
      assertThat(ratio).isBetween(0.2, 0.3);
    }
  }

  @Test
  void textsAreCutAtTheCharWorkloadsBoundariesSoBothAreEvaluatedOnTheSameHeldOutCharacters()
      throws Exception {
    String text = LocalPipeline.corpus();
    SubwordStage.Texts texts = SubwordStage.Texts.of(text);
    CharTokenizer chars = CharTokenizer.fromCorpus(text);
    LocalPipeline.Splits splits = LocalPipeline.Splits.of(chars.encode(text));
    assertThat(texts.heldOut()).isEqualTo(chars.decode(splits.heldOut()));
    assertThat(texts.valLabelled()).isEqualTo(chars.decode(splits.valLabelled()));
    assertThat(texts.train()).isEqualTo(chars.decode(splits.train()));
    assertThat(texts.train() + texts.val()).isEqualTo(text);
  }

  @Test
  void charactersPerScoredTokenCountsTheTargetsOfTheEvaluationWindows() throws Exception {
    try (Tokenizer tok = SubwordStage.bundledTokenizer(tmp.resolve("tok"))) {
      int[] ids = tok.encode("First Citizen:\nBefore we proceed any further, hear me speak.");
      // one window of 4 + 1 tokens: the 4 targets decode to the characters counted
      int[] one = java.util.Arrays.copyOf(ids, 5);
      double expected = tok.decode(java.util.Arrays.copyOfRange(one, 1, 5)).length() / 4.0;
      assertThat(SubwordStage.charactersPerScoredToken(tok, one, 4, 10))
          .isCloseTo(expected, within(1e-12));
      // on the held-out text: about the corpus's 2.1 characters per token
      double cpt =
          SubwordStage.charactersPerScoredToken(tok, SubwordStage.heldOutTokens(tok), 64, 200);
      assertThat(cpt).isBetween(1.8, 2.6);
    }
  }
}
