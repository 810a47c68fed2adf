package dev.distill.spark.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.spark.TestRecords;
import dev.distill.spark.TestSpark;
import dev.distill.spark.transforms.Fusion;
import dev.distill.spark.transforms.RawColumns;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FuseJobIT {
  private static SparkSession spark;

  @TempDir static Path tmp;

  @BeforeAll
  static void start() {
    spark = TestSpark.local("fuse-it");
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  /** Teacher b: same prompts and tokens as TestRecords' teacher-a, ids (p+1: .5, p+2: .4). */
  private static TeacherOutput teacherB(TeacherOutput a, String tokenizerSha) {
    TeacherOutput b = TeacherOutput.newBuilder(a).build();
    b.setRecordId("b-" + a.getRecordId());
    b.getProvenance().setTeacherId("teacher-b");
    b.getProvenance().setTeacherSha256("bb33");
    b.getProvenance().setTokenizerSha256(tokenizerSha);
    int positions = a.getTokens().size() - 1;
    int[] ids = new int[positions * 2];
    float[] probs = new float[positions * 2];
    float[] tail = new float[positions];
    for (int p = 0; p < positions; p++) {
      ids[p * 2] = p + 1;
      ids[p * 2 + 1] = p + 2;
      probs[p * 2] = 0.5f;
      probs[p * 2 + 1] = 0.4f;
      tail[p] = 0.1f;
    }
    b.setSoftLabels(
        ByteBuffer.wrap(SoftLabelCodec.encode(new SoftLabels(positions, 2, ids, probs, tail))));
    return b;
  }

  @Test
  void fusesTwoTeachersPerPromptIntoOneTeacherThatCurateAccepts() throws Exception {
    List<TeacherOutput> a = new ArrayList<>();
    List<TeacherOutput> b = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      a.add(TestRecords.record("r" + i, i));
      if (i != 5) {
        b.add(teacherB(TestRecords.record("r" + i, i), "cc22"));
      }
    }
    Path rawA = tmp.resolve("a");
    Path rawB = tmp.resolve("b");
    TestRecords.raw(spark, a).write().parquet(rawA.toString());
    TestRecords.raw(spark, b).write().parquet(rawB.toString());
    Map<String, Double> inputs = new LinkedHashMap<>();
    inputs.put(rawA.toString(), 3.0);
    inputs.put(rawB.toString(), 1.0);
    Path out = tmp.resolve("fused");
    Path report = tmp.resolve("fuse.json");

    FuseJob.Result r =
        FuseJob.run(new FuseJob.Config(inputs, out.toString(), report.toString(), 3, null));

    assertThat(r.fused()).isEqualTo(5);
    assertThat(r.rejected()).containsExactly(Map.entry(Fusion.MISSING_TEACHER, 1L));
    List<Row> rows = spark.read().parquet(out.toString()).collectAsList();
    assertThat(rows).hasSize(5);
    assertThat(rows)
        .allMatch(x -> x.<String>getAs(RawColumns.TEACHER_ID).equals(r.fusedTeacherId()));
    assertThat(r.fusedTeacherId())
        .isEqualTo("fuse[teacher-a@aa11*0.750000,teacher-b@bb33*0.250000]");
    assertThat(rows).allMatch(x -> x.<Integer>getAs(RawColumns.TOP_K) == 3);
    // Position 0: a {0: .6, 1: .3}, b {1: .5, 2: .4}, tails .1 over 998 ids; weights .75 / .25.
    SoftLabels f = SoftLabelCodec.decode(rows.get(0).<byte[]>getAs(RawColumns.SOFT_LABELS));
    double u = 0.1 / 998;
    assertThat(f.ids()[0]).isEqualTo(0);
    assertThat(f.prob(0, 0)).isCloseTo((float) (0.75 * 0.6 + 0.25 * u), within(2e-4f));
    assertThat(f.prob(0, 1)).isCloseTo((float) (0.75 * 0.3 + 0.25 * 0.5), within(2e-4f));
    assertThat(f.prob(0, 2)).isCloseTo((float) (0.75 * u + 0.25 * 0.4), within(2e-4f));
    // KL(fused || a) per position, every position alike: kept {0, 1, 2}, a's rest 0.1 - u.
    double q0 = 0.75 * 0.6 + 0.25 * u;
    double q1 = 0.75 * 0.3 + 0.25 * 0.5;
    double q2 = 0.75 * u + 0.25 * 0.4;
    double qt = 1 - q0 - q1 - q2;
    double klA =
        q0 * Math.log(q0 / 0.6)
            + q1 * Math.log(q1 / 0.3)
            + q2 * Math.log(q2 / u)
            + qt * Math.log(qt / (0.1 - u));
    assertThat(r.meanKl().get("teacher-a@aa11")).isCloseTo(klA, within(1e-3));
    assertThat(r.meanKl().get("teacher-b@bb33")).isGreaterThan(klA);
    JsonNode json = new ObjectMapper().readTree(report.toFile());
    assertThat(json.get("teachers").get(1).get("weight").asDouble()).isEqualTo(0.25);
    assertThat(json.get("rejected").get(Fusion.MISSING_TEACHER).asLong()).isEqualTo(1);

    // The trainer's path sees one teacher: CurateJob's provenance guard passes.
    CurateResult curated =
        CurateJob.run(
            new CurateConfig(
                out.toString(),
                tmp.resolve("curated").toString(),
                tmp.resolve("c.json").toString(),
                0.3,
                null));
    assertThat(curated.kept()).isEqualTo(5);
    assertThat(curated.rejected()).isZero();
  }

  @Test
  void refusesTeachersWithDifferentTokenizersNamingBoth() {
    Path rawA = tmp.resolve("ta");
    Path rawB = tmp.resolve("tb");
    TestRecords.raw(spark, List.of(TestRecords.record("r0", 0))).write().parquet(rawA.toString());
    TestRecords.raw(spark, List.of(teacherB(TestRecords.record("r0", 0), "dd44")))
        .write()
        .parquet(rawB.toString());
    Map<String, Double> inputs = new LinkedHashMap<>();
    inputs.put(rawA.toString(), 1.0);
    inputs.put(rawB.toString(), 1.0);

    assertThatThrownBy(
            () ->
                FuseJob.run(
                    new FuseJob.Config(
                        inputs,
                        tmp.resolve("never").toString(),
                        tmp.resolve("n.json").toString(),
                        0,
                        null)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("teacher-a@aa11")
        .hasMessageContaining("char@cc22")
        .hasMessageContaining("teacher-b@bb33")
        .hasMessageContaining("char@dd44");
    assertThat(tmp.resolve("never")).doesNotExist();
  }
}
