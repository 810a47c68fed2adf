package dev.distill.teacher.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonObject;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.teacher.inference.LabeledSequence;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/** The soft-labels response seam: the teacher's labels cut to the request's k, and their JSON. */
class SoftLabelsResponseTest {
  final GatedTeacher teacher = new GatedTeacher(new CountDownLatch(0));

  /** Two positions, k = 3: ids (2,0,1) and (1,3,0), a tail of 0.1 and 0.05. */
  static LabeledSequence sequence() {
    return new LabeledSequence(
        new int[] {0, 1, 2},
        new SoftLabels(
            2,
            3,
            new int[] {2, 0, 1, 1, 3, 0},
            new float[] {0.5f, 0.3f, 0.1f, 0.6f, 0.25f, 0.1f},
            new float[] {0.1f, 0.05f}),
        1.25f,
        0.2f,
        0.9f,
        0.5f);
  }

  @Test
  void askingForFewerThanTheTeachersKMovesTheDroppedProbabilitiesIntoTheTail() {
    SoftLabelsResponse r =
        SoftLabelsResponse.of(
            new SoftLabelsRequest(new int[] {0, 1, 2}, 1), sequence(), teacher.provenance());
    SoftLabels l = r.labels();
    assertThat(l.k()).isEqualTo(1);
    assertThat(l.positions()).isEqualTo(2);
    assertThat(l.id(0, 0)).isEqualTo(2);
    assertThat(l.id(1, 0)).isEqualTo(1);
    assertThat(l.tail(0)).isCloseTo(0.1f + 0.3f + 0.1f, within(1e-6f));
    assertThat(l.tail(1)).isCloseTo(0.05f + 0.25f + 0.1f, within(1e-6f));
    // Every position still sums to 1 with its tail.
    assertThat(l.prob(0, 0) + l.tail(0)).isCloseTo(1f, within(1e-6f));
  }

  @Test
  void jsonCarriesEveryFieldOfTheApiWithThePositionsByKArrays() {
    JsonObject o =
        SoftLabelsResponse.of(
                new SoftLabelsRequest(new int[] {0, 1, 2}, 2), sequence(), teacher.provenance())
            .toJson();
    assertThat(o.get("tokens").toString()).isEqualTo("[0,1,2]");
    assertThat(o.get("positions").getAsInt()).isEqualTo(2);
    assertThat(o.get("k").getAsInt()).isEqualTo(2);
    assertThat(o.get("temperature").getAsFloat()).isEqualTo(1f);
    assertThat(o.get("top_ids").toString()).isEqualTo("[[2,0],[1,3]]");
    assertThat(o.getAsJsonArray("top_probs").get(1).getAsJsonArray().get(1).getAsFloat())
        .isEqualTo(0.25f);
    assertThat(o.getAsJsonArray("tail_mass").get(0).getAsFloat()).isCloseTo(0.2f, within(1e-6f));
    JsonObject stats = o.getAsJsonObject("stats");
    assertThat(stats.get("mean_entropy").getAsFloat()).isEqualTo(1.25f);
    assertThat(stats.get("mean_top1_margin").getAsFloat()).isEqualTo(0.2f);
    assertThat(stats.get("mean_topk_mass").getAsFloat()).isEqualTo(0.9f);
    assertThat(stats.get("label_outside_topk_rate").getAsFloat()).isEqualTo(0.5f);
    assertThat(o.getAsJsonObject("provenance").get("teacherId").getAsString()).isEqualTo("stub");
  }
}
