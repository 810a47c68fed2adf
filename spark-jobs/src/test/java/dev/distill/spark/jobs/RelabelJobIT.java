package dev.distill.spark.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.spark.TestRecords;
import dev.distill.spark.TestSpark;
import dev.distill.spark.transforms.Relabeling;
import java.nio.file.Path;
import java.util.ArrayList;
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
    List<dev.distill.schemas.avro.TeacherOutput> records = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      records.add(TestRecords.record("r" + i, i));
    }
    Path raw = tmp.resolve("raw");
    TestRecords.raw(spark, records).write().parquet(raw.toString());
    Path curated = tmp.resolve("curated");
    CurateJob.run(
        new CurateConfig(
            raw.toString(), curated.toString(), tmp.resolve("c.json").toString(), 0.3, null));
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
}
