package dev.distill.teacher.labeling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.distill.schemas.avro.Prompt;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.codec.SampledSoftLabelCodec;
import dev.distill.schemas.validation.SoftLabelValidator;
import dev.distill.teacher.TestTeachers;
import dev.distill.teacher.inference.LocalTeacher;
import dev.distill.teacher.inference.Teacher;
import dev.distill.teacher.inference.TextGeneration.TokenLogprob;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** {@code --labels sampled:N} and {@code --generate N} on a real tiny DJL teacher. */
class SampledAndGeneratedLabelingTest {

  static List<Prompt> prompts(String... texts) {
    List<Prompt> out = new ArrayList<>();
    for (int i = 0; i < texts.length; i++) {
      out.add(
          Prompt.newBuilder()
              .setPromptId("p" + i)
              .setRunId("r")
              .setSource("s")
              .setText(texts[i])
              .build());
    }
    return out;
  }

  static List<TeacherOutput> run(LabelModeOptions mode, LocalTeacher base, List<Prompt> prompts)
      throws Exception {
    Teacher t = mode.apply(base);
    CollectingSink sink = new CollectingSink();
    mode.batchRun(new PromptLabeler(t, 64, 1000), 4096, t).run(prompts, sink);
    return sink.records;
  }

  static LabelModeOptions mode(String labels, int generate, float temperature, int maxTokens) {
    LabelModeOptions m = new LabelModeOptions();
    m.labels = labels;
    m.generate = generate;
    m.generateTemperature = temperature;
    m.generateMaxTokens = maxTokens;
    return m;
  }

  @Test
  void sampledModeWritesCodecVersion2RecordsThatTheValidatorAccepts() throws Exception {
    try (LocalTeacher base = TestTeachers.tiny(32, 3, 2f)) {
      List<TeacherOutput> out =
          run(mode("sampled:5", 0, 1f, 1), base, prompts("the cat sat.", "hello, world"));
      assertThat(out).hasSize(2);
      for (TeacherOutput r : out) {
        assertThat(r.getProvenance().getCodec()).isEqualTo(SampledSoftLabelCodec.NAME);
        assertThat(r.getProvenance().getCodecVersion()).isEqualTo(2);
        assertThat(r.getProvenance().getTopK()).isEqualTo(5);
        assertThat(SoftLabelValidator.validate(r)).isEmpty();
        byte[] b = new byte[r.getSoftLabels().remaining()];
        r.getSoftLabels().duplicate().get(b);
        SampledSoftLabelCodec.Sampled s = SampledSoftLabelCodec.decode(b);
        assertThat(s.samples()).isEqualTo(5);
        assertThat(s.positions()).isEqualTo(r.getTokens().size() - 1);
      }
    }
  }

  @Test
  void topkModeIsTodaysCodecVersion1() throws Exception {
    try (LocalTeacher base = TestTeachers.tiny(32, 3, 2f)) {
      TeacherOutput r = run(mode("topk", 0, 1f, 1), base, prompts("the cat sat.")).get(0);
      assertThat(r.getProvenance().getCodecVersion()).isEqualTo(1);
      assertThat(r.getProvenance().getTopK()).isEqualTo(3);
    }
  }

  @Test
  void badLabelSpecsAreRefusedNamingTheOption() {
    assertThatThrownBy(() -> LabelModeOptions.parseLabels("sampled:0"))
        .hasMessageContaining("--labels sampled:0");
    assertThatThrownBy(() -> LabelModeOptions.parseLabels("dense"))
        .hasMessageContaining("topk or sampled:N");
    assertThat(LabelModeOptions.parseLabels("sampled:12")).isEqualTo(12);
  }

  @Test
  void twoCompletionsOfThreePromptsAreSixRecordsOfPromptThenTeacherTokens() throws Exception {
    try (LocalTeacher base = TestTeachers.tiny(32, 3, 2f)) {
      List<Prompt> in = prompts("the cat", "a dog", "hello, ");
      List<TeacherOutput> out = run(mode("topk", 2, 1f, 6), base, in);
      assertThat(out).hasSize(6);
      Set<String> promptIds = new HashSet<>();
      Set<String> recordIds = new HashSet<>();
      for (TeacherOutput r : out) {
        promptIds.add(r.getPromptId().toString());
        recordIds.add(r.getRecordId().toString());
        assertThat(r.getSource().toString()).isEqualTo("s" + SequenceLevel.SOURCE_SUFFIX);
        String id = r.getPromptId().toString();
        int[] prompt = base.encode(in.get(id.charAt(1) - '0').getText().toString());
        // the prompt's tokens, then 6 generated ones (the char GPT has no end token)
        assertThat(r.getTokens()).hasSize(prompt.length + 6);
        for (int j = 0; j < prompt.length; j++) {
          assertThat(r.getTokens().get(j)).isEqualTo(prompt[j]);
        }
        assertThat(r.getStats().getPositions()).isEqualTo(prompt.length + 5);
      }
      assertThat(promptIds)
          .containsExactlyInAnyOrder("p0#g0", "p0#g1", "p1#g0", "p1#g1", "p2#g0", "p2#g1");
      assertThat(recordIds).hasSize(6);
    }
  }

  @Test
  void greedyCompletionsAreDeterministicAndAreTheTeachersArgmaxTokens() throws Exception {
    try (LocalTeacher base = TestTeachers.tiny(32, 3, 2f)) {
      List<Prompt> in = prompts("the cat");
      List<TeacherOutput> a = run(mode("topk", 1, 0f, 5), base, in);
      List<TeacherOutput> b = run(mode("topk", 1, 0f, 5), base, in);
      assertThat(a.get(0).getTokens()).isEqualTo(b.get(0).getTokens());
      int[] prompt = base.encode("the cat");
      List<TokenLogprob> greedy = base.generate(prompt, 5, 0f, 1, new Random(99), l -> false);
      for (int j = 0; j < 5; j++) {
        assertThat(a.get(0).getTokens().get(prompt.length + j)).isEqualTo(greedy.get(j).id());
      }
    }
  }

  @Test
  void manyGreedyCompletionsAreRefused() {
    assertThatThrownBy(() -> new SequenceLevel(2, 0f, 5)).hasMessageContaining("same text");
  }

  @Test
  void generatedSequencesCanCarrySampledLabels() throws Exception {
    try (LocalTeacher base = TestTeachers.tiny(32, 3, 2f)) {
      List<TeacherOutput> out = run(mode("sampled:4", 1, 1f, 4), base, prompts("the cat"));
      assertThat(out).hasSize(1);
      assertThat(out.get(0).getProvenance().getCodecVersion()).isEqualTo(2);
      assertThat(SoftLabelValidator.validate(out.get(0))).isEmpty();
    }
  }
}
