package dev.distill.spark.transforms;

import static org.apache.spark.sql.functions.col;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.distill.schemas.avro.LabelStats;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.spark.TestRecords;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Near-duplicates, logit filters, decontamination, weights and chunk reassembly. */
class CurationTransformsTest {
  private static SparkSession spark;

  @BeforeAll
  static void startSpark() {
    spark =
        SparkSession.builder()
            .appName("curation-transforms-test")
            .master("local[2]")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  /** 64 random tokens in [0, 60) from a seed: distinct seeds give unrelated texts. */
  private static List<Integer> text(long seed) {
    Random r = new Random(seed);
    List<Integer> t = new ArrayList<>();
    for (int i = 0; i < 64; i++) {
      t.add(r.nextInt(60));
    }
    return t;
  }

  private static List<Integer> mutate(List<Integer> t, int... positions) {
    List<Integer> out = new ArrayList<>(t);
    for (int p : positions) {
      out.set(p, (out.get(p) + 7) % 60);
    }
    return out;
  }

  private static List<String> ids(Dataset<Row> rows) {
    return rows.select(RawColumns.RECORD_ID).as(Encoders.STRING()).collectAsList();
  }

  private static int[] ints(List<Integer> t) {
    return t.stream().mapToInt(Integer::intValue).toArray();
  }

  // ---- near-duplicates ----

  @Test
  void jaccardOfShingleSetsIsExact() {
    long[] a = {1, 2, 3, 4};
    long[] b = {3, 4, 5, 6};
    assertThat(NearDuplicates.jaccard(a, b)).isEqualTo(2.0 / 6.0);
    assertThat(NearDuplicates.jaccard(a, a)).isEqualTo(1.0);
    assertThat(NearDuplicates.jaccard(new long[0], new long[0])).isZero();
  }

  @Test
  void bandKeysFromTokensEqualThoseOfTheSortedDistinctShingleSet() {
    NearDuplicates.Params p = NearDuplicates.Params.withThreshold(0.8);
    java.util.SplittableRandom r = new java.util.SplittableRandom(7);
    for (int n = 0; n < 300; n++) {
      // Lengths 0-40 over 3 ids: short sequences (one shingle) and many repeated 5-grams.
      int[] tokens = new int[r.nextInt(41)];
      for (int i = 0; i < tokens.length; i++) {
        tokens[i] = r.nextInt(3);
      }
      long[] set = TokenHashing.ngramHashes(tokens, p.ngram(), true);
      assertThat(NearDuplicates.bandKeysOfTokens(tokens, p))
          .as("tokens %s", java.util.Arrays.toString(tokens))
          .containsExactly(NearDuplicates.bandKeys(set, p));
    }
  }

  @Test
  void minHashAgreementEstimatesJaccard() {
    List<Integer> base = text(1);
    List<Integer> near = mutate(base, 30);
    long[] sa = TokenHashing.ngramHashes(ints(base), 5, true);
    long[] sb = TokenHashing.ngramHashes(ints(near), 5, true);
    double exact = NearDuplicates.jaccard(sa, sb);
    long[] ga = NearDuplicates.signature(sa, 512);
    long[] gb = NearDuplicates.signature(sb, 512);
    int same = 0;
    for (int i = 0; i < ga.length; i++) {
      same += ga[i] == gb[i] ? 1 : 0;
    }
    assertThat(exact).isBetween(0.8, 0.95);
    assertThat(same / 512.0).isCloseTo(exact, within(0.08));
  }

  @Test
  void nearDuplicatesAreDroppedKeepingTheSmallestIdAndDistinctTextsSurvive() {
    List<TeacherOutput> records = new ArrayList<>();
    List<Integer> base = text(100);
    records.add(TestRecords.record("b-original", base));
    records.add(TestRecords.record("a-one-token-changed", mutate(base, 40)));
    records.add(TestRecords.record("c-two-tokens-changed", mutate(base, 10, 11)));
    // Two changes far apart touch 10 of 60 shingles: Jaccard 50/70 < 0.8, kept.
    records.add(TestRecords.record("e-two-far-changes", mutate(base, 10, 50)));
    // Shares half its tokens with base: Jaccard far below 0.8.
    List<Integer> half = new ArrayList<>(base.subList(0, 32));
    half.addAll(text(101).subList(0, 32));
    records.add(TestRecords.record("d-half-overlap", half));
    for (int i = 0; i < 20; i++) {
      records.add(TestRecords.record(String.format("z-distinct-%02d", i), text(200 + i)));
    }
    NearDuplicates.Params p = NearDuplicates.Params.withThreshold(0.8);

    List<String> kept = ids(NearDuplicates.dropNearDuplicates(TestRecords.raw(spark, records), p));

    assertThat(kept)
        .hasSize(23)
        .contains(
            "a-one-token-changed",
            "d-half-overlap",
            "e-two-far-changes",
            "z-distinct-00",
            "z-distinct-19")
        .doesNotContain("b-original", "c-two-tokens-changed");
  }

  @Test
  void thresholdOfOneKeepsPairsThatDifferInOneToken() {
    List<Integer> base = text(7);
    List<TeacherOutput> records =
        List.of(TestRecords.record("x", base), TestRecords.record("y", mutate(base, 20)));

    Dataset<Row> pairs =
        NearDuplicates.verifiedPairs(
            NearDuplicates.signatures(
                NearDuplicates.withKey(TestRecords.raw(spark, records)),
                NearDuplicates.Params.withThreshold(1.0)),
            NearDuplicates.Params.withThreshold(1.0));

    assertThat(pairs.count()).isZero();
  }

  @Test
  void nearDuplicateParamsRejectBandsThatDoNotDivideTheHashes() {
    assertThatThrownBy(() -> new NearDuplicates.Params(5, 120, 7, 0.8, 100))
        .hasMessageContaining("dividing");
    assertThat(NearDuplicates.Params.withThreshold(0.8).candidateProbability(0.8))
        .isGreaterThan(0.99);
    assertThat(NearDuplicates.Params.withThreshold(0.8).candidateProbability(0.3)).isLessThan(0.1);
  }

  // ---- logit filters ----

  private static TeacherOutput withStats(String id, int seed, float entropy, float margin) {
    TeacherOutput r = TestRecords.record(id, seed);
    return TeacherOutput.newBuilder(r)
        .setStats(
            LabelStats.newBuilder(r.getStats())
                .setMeanEntropy(entropy)
                .setMeanTop1Margin(margin)
                .build())
        .build();
  }

  @Test
  void filterSpecsParseIntoValueAndQuantileBounds() {
    LogitFilters.Filter f = LogitFilters.Filter.parse("mean_entropy<=q0.9");
    assertThat(f.quantile()).isTrue();
    assertThat(f.lower()).isFalse();
    assertThat(f.name()).isEqualTo("mean_entropy<=q0.9");
    assertThat(LogitFilters.Filter.parse(" mean_top1_margin >= 0.25 ").name())
        .isEqualTo("mean_top1_margin>=0.25");
    assertThatThrownBy(() -> LogitFilters.Filter.parse("teacher_id<=3"))
        .hasMessageContaining("mean_entropy");
    assertThatThrownBy(() -> LogitFilters.Filter.parse("mean_entropy<=q1.5"))
        .hasMessageContaining("quantile");
  }

  @Test
  void eachRowIsCountedUnderTheFirstFilterItFails() {
    List<TeacherOutput> records = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      // entropy 0.00 .. 0.99; margin low for every 10th row
      records.add(withStats("r" + i, i, i / 100f, i % 10 == 0 ? 0.05f : 0.5f));
    }
    List<LogitFilters.Filter> filters =
        List.of(
            LogitFilters.Filter.parse("mean_entropy<=q0.9"),
            LogitFilters.Filter.parse("mean_top1_margin>=0.1"));
    Dataset<Row> rows = TestRecords.raw(spark, records);
    Map<String, Map<Double, Double>> q =
        LogitFilters.quantiles(rows, LogitFilters.quantilesNeeded(filters));
    List<LogitFilters.Resolved> resolved = LogitFilters.resolve(filters, q);

    Map<String, Long> counts = new HashMap<>();
    for (Row r :
        LogitFilters.annotate(rows, resolved)
            .groupBy(LogitFilters.DECISION)
            .count()
            .collectAsList()) {
      counts.put(r.isNullAt(0) ? "KEPT" : r.getString(0), r.getLong(1));
    }

    assertThat(resolved.get(0).threshold()).isCloseTo(0.89, within(0.011));
    assertThat(q.get(RawColumns.MEAN_ENTROPY).get(0.5)).isCloseTo(0.5, within(0.011));
    // Entropy above q0.9: rows 90..99 (r90 also has a low margin but fails entropy first).
    assertThat(counts.get("mean_entropy<=q0.9")).isBetween(9L, 10L);
    assertThat(counts.get("mean_top1_margin>=0.1")).isEqualTo(9L);
    assertThat(counts.values().stream().mapToLong(Long::longValue).sum()).isEqualTo(100);
    assertThat(LogitFilters.apply(rows, filters).count()).isEqualTo(counts.get("KEPT"));
  }

  @Test
  void quantileThresholdsAreExactAndTheSameForEveryPartitioningAndRowOrder() {
    Random random = new Random(14);
    List<TeacherOutput> records = new ArrayList<>();
    float[] entropies = new float[3_000];
    for (int i = 0; i < entropies.length; i++) {
      entropies[i] = (float) (random.nextGaussian() * 2 + 5);
      records.add(withStats("q" + i, i, entropies[i], random.nextFloat()));
    }
    Dataset<Row> rows = TestRecords.raw(spark, records).cache();
    double[] p = LogitFilters.probabilities(0.99, 0.333);

    Map<String, Map<Double, Double>> one =
        LogitFilters.quantilesOf(
            LogitFilters.summaryBlocks(rows.repartition(1), functions.lit(true)).collectAsList(),
            p);
    Map<String, Map<Double, Double>> seven =
        LogitFilters.quantilesOf(
            LogitFilters.summaryBlocks(
                    rows.repartition(7).orderBy(col(RawColumns.MEAN_TOP1_MARGIN)),
                    functions.lit(true))
                .collectAsList(),
            p);
    java.util.List<Row> blocks =
        new ArrayList<>(
            LogitFilters.summaryBlocks(rows.repartition(5), functions.lit(true)).collectAsList());
    java.util.Collections.reverse(blocks); // blocks merged in another order

    assertThat(seven).isEqualTo(one);
    assertThat(LogitFilters.quantilesOf(blocks, p)).isEqualTo(one);
    float[] sorted = entropies.clone();
    java.util.Arrays.sort(sorted);
    // q0.99 of 3,000 values: the 2,970th smallest; q0.333: the 999th (ceil(0.333 * 3000)).
    assertThat(one.get(RawColumns.MEAN_ENTROPY).get(0.99)).isEqualTo((double) sorted[2_969]);
    assertThat(one.get(RawColumns.MEAN_ENTROPY).get(0.333)).isEqualTo((double) sorted[998]);
    assertThat(one.get(RawColumns.MEAN_ENTROPY).get(0.0)).isEqualTo((double) sorted[0]);
    assertThat(one.get(RawColumns.MEAN_ENTROPY).get(1.0)).isEqualTo((double) sorted[2_999]);
    rows.unpersist();
  }

  // ---- decontamination ----

  @Test
  void trainExamplesSharingAThirteenGramWithTheEvalSetAreDropped() {
    List<Integer> evalText = text(900);
    List<Integer> leaked = new ArrayList<>(text(901).subList(0, 30));
    leaked.addAll(evalText.subList(20, 33)); // exactly 13 tokens of the eval text
    leaked.addAll(text(902).subList(0, 21));
    List<Integer> twelve = new ArrayList<>(text(903).subList(0, 30));
    twelve.addAll(evalText.subList(20, 32)); // only 12: not contaminated at n = 13
    twelve.addAll(text(904).subList(0, 22));
    Dataset<Row> train =
        TestRecords.raw(
            spark,
            List.of(
                TestRecords.record("leaked", leaked),
                TestRecords.record("twelve", twelve),
                TestRecords.record("clean", text(905))));
    Dataset<Row> eval = TestRecords.raw(spark, List.of(TestRecords.record("eval", evalText)));

    assertThat(ids(Decontamination.dropContaminated(train, eval, 13)))
        .containsExactlyInAnyOrder("twelve", "clean");
    assertThat(ids(Decontamination.dropContaminated(train, eval, 12)))
        .containsExactlyInAnyOrder("clean");
  }

  // ---- weights ----

  @Test
  void entropyWeightsFavourConfidentExamplesAndAverageOne() {
    List<TeacherOutput> records = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      records.add(withStats("w" + i, i, i * 0.2f, 0.5f));
    }
    Dataset<Row> rows = TestRecords.raw(spark, records);

    List<Row> w =
        ExampleWeights.assign(rows, ExampleWeights.Params.entropy(1.0))
            .orderBy(RawColumns.RECORD_ID)
            .select(col(ExampleWeights.WEIGHT))
            .collectAsList();
    List<Row> uniform =
        ExampleWeights.assign(rows, ExampleWeights.Params.UNIFORM)
            .select(ExampleWeights.WEIGHT)
            .collectAsList();

    double mean = w.stream().mapToDouble(r -> r.getFloat(0)).average().orElseThrow();
    assertThat(mean).isCloseTo(1.0, within(1e-4));
    assertThat(w.get(0).getFloat(0)).isGreaterThan(w.get(9).getFloat(0));
    assertThat(w.get(0).getFloat(0) / w.get(1).getFloat(0))
        .isCloseTo((float) Math.exp(0.2), within(1e-4f));
    assertThat(uniform).allMatch(r -> r.getFloat(0) == 1.0f);
  }

  // ---- chunk reassembly ----

  private static TeacherOutput chunk(String id, List<Integer> tokens, int index, int count) {
    return TeacherOutput.newBuilder(TestRecords.record(id, tokens))
        .setChunkIndex(index)
        .setChunkCount(count)
        .build();
  }

  @Test
  void chunksAreJoinedInOrderSharingTheirBoundaryToken() {
    List<Integer> whole = text(42).subList(0, 21); // tokens t0..t20
    List<TeacherOutput> records =
        List.of(
            chunk("rec", whole.subList(10, 16), 2, 4), // t10..t15
            chunk("rec", whole.subList(0, 6), 0, 4), // t0..t5
            chunk("rec", whole.subList(15, 21), 3, 4), // t15..t20
            chunk("rec", whole.subList(5, 11), 1, 4), // t5..t10
            TestRecords.record("single", 3));

    List<Row> out =
        ChunkReassembly.reassemble(TestRecords.raw(spark, records))
            .orderBy(RawColumns.RECORD_ID)
            .collectAsList();

    assertThat(out).hasSize(2);
    Row rec = out.get(0);
    assertThat(rec.<String>getAs(RawColumns.RECORD_ID)).isEqualTo("rec");
    assertThat((Object) rec.getAs(ChunkReassembly.CHUNK_REJECT)).isNull();
    assertThat(rec.<Integer>getAs(ChunkReassembly.CHUNK_ROWS)).isEqualTo(4);
    assertThat(rec.<Integer>getAs(RawColumns.CHUNK_COUNT)).isEqualTo(1);
    assertThat(rec.getList(rec.fieldIndex(RawColumns.TOKENS))).containsExactlyElementsOf(whole);
    SoftLabels labels = SoftLabelCodec.decode(rec.getAs(RawColumns.SOFT_LABELS));
    assertThat(labels.positions()).isEqualTo(20);
    assertThat(rec.<Integer>getAs(RawColumns.POSITIONS)).isEqualTo(20);
    // Chunk 1's first position is the 6th position of the whole record; its labels came along.
    SoftLabels chunk1 =
        SoftLabelCodec.decode(
            SoftLabelCodec.encode(SoftLabelCodec.decode(records.get(3).getSoftLabels().array())));
    assertThat(labels.id(5, 0)).isEqualTo(chunk1.id(0, 0));
    assertThat(labels.prob(5, 0)).isEqualTo(chunk1.prob(0, 0));
    assertThat(RecordValidation.check(rec)).isEmpty();
    assertThat(out.get(1).<Integer>getAs(ChunkReassembly.CHUNK_ROWS)).isEqualTo(1);
  }

  @Test
  void aMissingChunkRejectsTheRecordAsIncompleteAndABadBoundaryAsMismatch() {
    List<Integer> whole = text(43).subList(0, 11);
    List<TeacherOutput> records =
        List.of(
            chunk("gap", whole.subList(0, 6), 0, 3),
            chunk("gap", whole.subList(5, 11), 2, 3),
            chunk("bad", whole.subList(0, 6), 0, 2),
            chunk("bad", whole.subList(6, 11), 1, 2), // starts at t6, not t5
            chunk("dup", whole.subList(0, 6), 0, 2),
            chunk("dup", whole.subList(5, 11), 1, 2),
            chunk("dup", whole.subList(5, 11), 1, 2)); // redelivered

    Map<String, Row> byId = new HashMap<>();
    for (Row r : ChunkReassembly.reassemble(TestRecords.raw(spark, records)).collectAsList()) {
      byId.put(r.getAs(RawColumns.RECORD_ID), r);
    }

    assertThat(byId.get("gap").<String>getAs(ChunkReassembly.CHUNK_REJECT))
        .isEqualTo(ChunkReassembly.INCOMPLETE_CHUNKS);
    assertThat(byId.get("gap").<Integer>getAs(ChunkReassembly.CHUNK_ROWS)).isEqualTo(2);
    assertThat(byId.get("bad").<String>getAs(ChunkReassembly.CHUNK_REJECT))
        .isEqualTo(ChunkReassembly.CHUNK_MISMATCH);
    Row dup = byId.get("dup");
    assertThat((Object) dup.getAs(ChunkReassembly.CHUNK_REJECT)).isNull();
    assertThat(dup.<Integer>getAs(ChunkReassembly.CHUNK_ROWS)).isEqualTo(3);
    assertThat(dup.getList(dup.fieldIndex(RawColumns.TOKENS))).containsExactlyElementsOf(whole);
  }
}
