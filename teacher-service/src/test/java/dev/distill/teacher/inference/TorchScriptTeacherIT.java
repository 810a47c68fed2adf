package dev.distill.teacher.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.distill.schemas.avro.Rationale;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The TorchScript teacher on the committed fixture (made by {@code
 * teacher-service/fixtures/make_tiny_torchscript.py} with PyTorch 1.13), run by DJL's libtorch
 * 2.7.1, compared with PyTorch's own outputs stored in {@code expected.json}.
 */
class TorchScriptTeacherIT {
  static final Path DIR = Path.of("src/test/resources/torchscript");
  static TorchScriptTeacher teacher;
  static JsonObject expected;

  @BeforeAll
  static void load() throws Exception {
    teacher = new TorchScriptTeacher("tiny-ts", DIR, new LabelingConfig(5, 2f, 8), 64);
    expected =
        JsonParser.parseString(Files.readString(DIR.resolve("expected.json"))).getAsJsonObject();
  }

  @AfterAll
  static void close() {
    teacher.close();
  }

  static int[] expectedIds() {
    JsonArray a = expected.getAsJsonArray("ids");
    int[] ids = new int[a.size()];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = a.get(i).getAsInt();
    }
    return ids;
  }

  @Test
  void huggingFaceTokenizerAndDjlForwardMatchPyTorch() {
    int[] ids = teacher.encode(expected.get("text").getAsString());
    assertThat(ids).containsExactly(expectedIds());
    float[] got = teacher.logSoftmax(ids);
    JsonArray want = expected.getAsJsonArray("log_softmax");
    int v = teacher.provenance().getVocabSize();
    assertThat(v).isEqualTo(29);
    for (int t = 0; t < ids.length; t++) {
      JsonArray row = want.get(t).getAsJsonArray();
      for (int j = 0; j < v; j++) {
        assertThat(got[t * v + j]).isCloseTo(row.get(j).getAsFloat(), within(1e-4f));
      }
    }
  }

  @Test
  void softLabelsAreTheTopKOfPyTorchsDistributionAtT() throws Exception {
    int[] ids = expectedIds();
    LabeledSequence seq = teacher.label(List.of(ids, new int[] {1, 2, 3})).get(0);
    SoftLabels l = seq.labels();
    JsonArray want = expected.getAsJsonArray("log_softmax");
    int v = 29;
    for (int p = 0; p < ids.length - 1; p++) {
      // softmax(z / T) from PyTorch's log-softmax: p_T ∝ exp(logp / T).
      double[] q = new double[v];
      double sum = 0;
      for (int j = 0; j < v; j++) {
        q[j] = Math.exp(want.get(p).getAsJsonArray().get(j).getAsDouble() / 2.0);
        sum += q[j];
      }
      double mass = 0;
      for (int j = 0; j < 5; j++) {
        assertThat((double) l.prob(p, j)).isCloseTo(q[l.id(p, j)] / sum, within(1e-5));
        mass += l.prob(p, j);
        if (j > 0) {
          assertThat(l.prob(p, j)).isLessThanOrEqualTo(l.prob(p, j - 1));
        }
      }
      assertThat((double) l.tail(p)).isCloseTo(1 - mass, within(1e-5));
    }
    assertThat(teacher.provenance().getTokenizerSha256()).hasSize(64);
    assertThat(teacher.provenance().getTeacherSha256()).hasSize(64);
  }

  @Test
  void rationalesAreSampledFromTheTorchScriptModelWithItsLogprobsAndSoftLabels() throws Exception {
    // The fixture's vocabulary is a-z, space, comma and period: a ':' in the prompt would not
    // encode (HfTokenizer refuses a character its BPE drops).
    RationaleConfig cot = new RationaleConfig(3, 1f, 8, Pattern.compile("([a-z])\\."), "q %s a");
    assertThat(teacher.samplesRationales()).isTrue();
    List<String> prompts = List.of("the cat", "on the mat");
    List<List<Rationale>> out = teacher.sampleRationales(prompts, cot, new Random(5));
    int v = 29;
    for (int q = 0; q < 2; q++) {
      assertThat(out.get(q)).hasSize(3);
      int[] start = teacher.encode(String.format("q %s a", prompts.get(q)));
      for (Rationale x : out.get(q)) {
        int[] ids = x.getTokenIds().stream().mapToInt(Integer::intValue).toArray();
        int generated = ids.length - start.length;
        assertThat(generated).isBetween(1, 8);
        assertThat(Arrays.copyOf(ids, start.length)).isEqualTo(start);
        // Mean log-probability of the sampled tokens under the model at T = 1.
        float[] logp = teacher.logSoftmax(ids);
        double sum = 0;
        for (int t = start.length - 1; t < ids.length - 1; t++) {
          sum += logp[t * v + ids[t + 1]];
        }
        assertThat((double) x.getMeanLogprob()).isCloseTo(sum / generated, within(1e-4));
        Matcher m = cot.answerPattern().matcher(x.getText());
        assertThat(x.getAnswer() == null ? null : x.getAnswer().toString())
            .isEqualTo(m.find() ? m.group(1) : null);
        SoftLabels sent = SoftLabelCodec.decode(x.getSoftLabels().array());
        SoftLabels exact = teacher.label(List.of(ids)).get(0).labels();
        assertThat(sent.positions()).isEqualTo(ids.length - 1);
        for (int p = 0; p < sent.positions(); p++) {
          assertThat(sent.top1(p)).isEqualTo(exact.top1(p));
        }
      }
    }
  }
}
