package dev.distill.teacher.labeling;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.validation.SoftLabelValidator;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.RationaleConfig;
import dev.distill.teacher.inference.RationaleSampler;
import dev.distill.teacher.inference.SoftLabeler;
import dev.distill.teacher.inference.TeacherIdentity;
import java.io.IOException;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class ReasoningRunTest {

  @Test
  void everyQuestionBecomesOneValidRecordWithItsRationalesAndGold() throws IOException {
    CharTokenizer tok = CharTokenizer.fromCorpus("0123456789+=A.\n");
    try (LanguageModel teacher =
        LanguageModel.create(new GptConfig(tok.vocabSize(), 32, 1, 2, 16, 0f), tok, 3)) {
      LabelingConfig lc = new LabelingConfig(4, 2f, 8);
      SoftLabeler labeler = new SoftLabeler(teacher, lc);
      RationaleSampler sampler =
          new RationaleSampler(
              teacher,
              labeler,
              new RationaleConfig(3, 1f, 6, Pattern.compile("A (\\d+)\\."), ".\n%s"));
      ReasoningRun run =
          new ReasoningRun(sampler, labeler, TeacherIdentity.provenance("t", teacher, lc), "r1");
      CollectingSink sink = new CollectingSink();
      ReasoningRun.Summary s =
          run.run(
              List.of(
                  new ReasoningRun.Question("q1", "arith", "1+2=\n", "3"),
                  new ReasoningRun.Question("q2", "arith", "4+4=\n", null)),
              7,
              sink,
              x -> {});

      assertThat(s.records()).isEqualTo(2);
      assertThat(s.rationales()).isEqualTo(6);
      assertThat(sink.commits).isEqualTo(1);
      assertThat(sink.records).hasSize(2);
      TeacherOutput first = sink.records.get(0);
      assertThat(first.getGoldAnswer()).isEqualTo("3");
      assertThat(first.getRationales()).hasSize(3);
      assertThat(first.getTokens()).hasSize(tok.encode(".\n1+2=\n").length);
      assertThat(SoftLabelValidator.validate(first)).isEmpty();
      assertThat(sink.records.get(1).getGoldAnswer()).isNull();
    }
  }
}
