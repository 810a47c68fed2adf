package dev.distill.spark.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.distill.schemas.codec.SampledSoftLabelCodec;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.spark.TestRecords;
import dev.distill.spark.TestSpark;
import dev.distill.spark.transforms.Relabeling;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RelabelJobIT {
  private static SparkSession spark;

  @TempDir static Path tmp;

  @BeforeAll
  static void start() {
    spark = TestSpark.local("relabel-it");
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  @Test
  void derivesOneSetPerVariantAndReportsTheirKlFromTheSource() throws Exception {
    Path curated = curated("curated");
    Path out = tmp.resolve("relabelled");
    Path report = tmp.resolve("relabel.json");

    RelabelJob.Result r =
        RelabelJob.run(
            new RelabelJob.Config(
                curated.toString(),
                out.toString(),
                report.toString(),
                List.of(
                    Relabeling.Variant.parse("t=2.0"),
                    Relabeling.Variant.parse("t=1.0"),
                    Relabeling.Variant.parse("k=1")),
                null));

    assertThat(r.rows()).isEqualTo(10);
    assertThat(r.meanKl().get("t2.0")).isCloseTo(0.0, org.assertj.core.api.Assertions.within(1e-6));
    assertThat(r.meanKl().get("t1.0")).isGreaterThan(0.01);
    // Source (0.6, 0.3, tail 0.1), V = 1000; k1 keeps 0.6, tail 0.4 spread over 999 ids: the
    // dropped id gets 0.4/999 and the source's tail bucket (998 ids) 0.4 * 998/999.
    double k1Kl = 0.3 * Math.log(0.3 / (0.4 / 999)) + 0.1 * Math.log(0.1 / (0.4 * 998 / 999));
    assertThat(r.meanKl().get("k1")).isCloseTo(k1Kl, org.assertj.core.api.Assertions.within(0.01));
    assertThat(out.resolve("k1").resolve("split=train")).isDirectory();
    List<Row> k1 = spark.read().parquet(out.resolve("k1").toString()).collectAsList();
    assertThat(k1).hasSize(10).allMatch(x -> x.<Integer>getAs("topK") == 1);
    SoftLabels l = SoftLabelCodec.decode(k1.get(0).<byte[]>getAs("softLabels"));
    assertThat(l.k()).isEqualTo(1);
    assertThat(l.tail(0)).isCloseTo(0.4f, org.assertj.core.api.Assertions.within(1e-3f));
    List<Row> t1 = spark.read().parquet(out.resolve("t1.0").toString()).collectAsList();
    assertThat(t1).allMatch(x -> x.<Float>getAs("temperature") == 1.0f);
    // Cooled from T = 2 to 1: the entropy is re-estimated, lower than the source's 1.5.
    assertThat(t1).allMatch(x -> x.<Float>getAs("meanEntropy") < 1.5f);
    JsonNode json = new ObjectMapper().readTree(report.toFile());
    assertThat(json.get("sets").get("t1.0").get("mean_kl_nats_per_position").asDouble())
        .isEqualTo(r.meanKl().get("t1.0"));
  }

  /** Curated Parquet of 10 TestRecords (V = 1000, k = 2: 0.6, 0.3, tail 0.1; 4 positions). */
  private static Path curated(String name) {
    List<dev.distill.schemas.avro.TeacherOutput> records = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      records.add(TestRecords.record("r" + i, i));
    }
    Path raw = tmp.resolve(name + "-raw");
    TestRecords.raw(spark, records).write().parquet(raw.toString());
    Path curated = tmp.resolve(name);
    CurateJob.run(
        new CurateConfig(
            raw.toString(), curated.toString(), tmp.resolve(name + ".json").toString(), 0.3, null));
    return curated;
  }

  private static RelabelJob.Result sample(Path in, Path out, long seed) {
    return RelabelJob.run(
        new RelabelJob.Config(
            in.toString(),
            out.toString(),
            out + ".json",
            List.of(),
            List.of(new Relabeling.Sampling(12, seed)),
            null));
  }

  private static java.util.Map<String, byte[]> labelsById(Path set) {
    java.util.Map<String, byte[]> m = new java.util.TreeMap<>();
    for (Row x : spark.read().parquet(set.toString()).collectAsList()) {
      m.put(x.getAs("exampleId"), x.getAs("softLabels"));
    }
    return m;
  }

  @Test
  void writesSampledCodecV2SetsDeterministicallyPerSeedAndRefusesToDeriveFromThem()
      throws Exception {
    Path curated = curated("curated-s");
    RelabelJob.Result r = sample(curated, tmp.resolve("s3"), 3);

    Path set = tmp.resolve("s3").resolve("sampled12-seed3");
    assertThat(r.rows()).isEqualTo(10);
    assertThat(set.resolve("split=train")).isDirectory();
    List<Row> rows = spark.read().parquet(set.toString()).collectAsList();
    assertThat(rows)
        .hasSize(10)
        .allMatch(x -> SampledSoftLabelCodec.NAME.equals(x.getAs("codec")))
        .allMatch(x -> x.<Integer>getAs("codecVersion") == 2)
        .allMatch(x -> x.<Integer>getAs("topK") == 12);
    // Position p of every record holds ids p (0.6) and p + 1 (0.3): over 10 x 4 x 12 = 480 draws
    // the share on the most probable id is 0.6 within 5 standard errors (0.11).
    int drawsOnTop = 0;
    for (Row x : rows) {
      SampledSoftLabelCodec.Sampled s = SampledSoftLabelCodec.decode(x.getAs("softLabels"));
      assertThat(s.positions()).isEqualTo(TestRecords.POSITIONS);
      for (int p = 0; p < s.positions(); p++) {
        for (int j = s.offsets()[p]; j < s.offsets()[p + 1]; j++) {
          drawsOnTop += s.ids()[j] == p ? s.counts()[j] : 0;
        }
      }
    }
    assertThat(drawsOnTop / 480.0).isCloseTo(0.6, org.assertj.core.api.Assertions.within(0.11));
    // The report: KL(sampled || source), finite and positive (the noise of 12 draws).
    assertThat(r.meanKl().get("sampled12-seed3")).isGreaterThan(0.0).isLessThan(10.0);
    JsonNode json = new ObjectMapper().readTree(tmp.resolve("s3.json").toFile());
    assertThat(json.get("sets").get("sampled12-seed3").get("output").asText())
        .isEqualTo(set.toString());

    // Same seed, same draws per example; another seed, other draws.
    sample(curated, tmp.resolve("s3-again"), 3);
    sample(curated, tmp.resolve("s4"), 4);
    java.util.Map<String, byte[]> first = labelsById(set);
    java.util.Map<String, byte[]> again = labelsById(tmp.resolve("s3-again/sampled12-seed3"));
    java.util.Map<String, byte[]> other = labelsById(tmp.resolve("s4/sampled12-seed4"));
    assertThat(again.keySet()).isEqualTo(first.keySet());
    first.forEach((id, bytes) -> assertThat(again.get(id)).as(id).isEqualTo(bytes));
    assertThat(first.keySet().stream().filter(id -> !Arrays.equals(first.get(id), other.get(id))))
        .isNotEmpty();

    // Sampled labels are not derived from again: the error names an example and the codec.
    assertThatThrownBy(
            () ->
                RelabelJob.run(
                    new RelabelJob.Config(
                        set.toString(),
                        tmp.resolve("from-sampled").toString(),
                        tmp.resolve("from-sampled.json").toString(),
                        List.of(Relabeling.Variant.parse("k=1")),
                        null)))
        .hasMessageContaining("codec version 2")
        .hasMessageContaining("top-k + tail");
  }
}
