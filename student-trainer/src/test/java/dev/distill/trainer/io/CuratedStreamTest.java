package dev.distill.trainer.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.schemas.avro.CuratedExample;
import dev.distill.trainer.data.Example;
import dev.distill.trainer.loss.DistillationLoss;
import dev.distill.trainer.training.Checkpointing;
import dev.distill.trainer.training.SoftLabelBatches;
import dev.distill.trainer.training.StreamingBatches;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainingLoop;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.commons.io.file.PathUtils;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CuratedStreamTest {
  private static final String SHA = "cd01";

  @TempDir java.nio.file.Path dir;

  /** Writes {@code n} records named {@code prefix-i}, {@code perGroup} rows per row group. */
  private java.nio.file.Path write(String name, String prefix, int n, int perGroup)
      throws IOException {
    java.nio.file.Path file = dir.resolve("split=train").resolve(name);
    CuratedExample[] records = new CuratedExample[n];
    for (int i = 0; i < n; i++) {
      records[i] = CuratedDatasetTest.record(prefix + "-" + i, 3 + i % 4);
    }
    CuratedDatasetTest.writeAvro(file, perGroup, records);
    return file;
  }

  /** Three files, 50 + 37 + 13 rows, 10 rows a row group: 5 + 4 + 2 = 11 row groups. */
  private List<String> threeFiles() throws IOException {
    write("part-0.parquet", "a", 50, 10);
    write("part-1.parquet", "b", 37, 10);
    write("part-2.parquet", "c", 13, 10);
    Files.createFile(dir.resolve("_SUCCESS"));
    List<String> ids = new ArrayList<>();
    for (String p : List.of("a-", "b-", "c-")) {
      int n = p.equals("a-") ? 50 : p.equals("b-") ? 37 : 13;
      for (int i = 0; i < n; i++) {
        ids.add(p + i);
      }
    }
    return ids;
  }

  private CuratedStream open(CuratedStream.Options o, CuratedStream.Cursor from)
      throws IOException {
    return CuratedStream.open(dir.toString(), "train", "tok", SHA, new Configuration(), o, from);
  }

  private static List<String> take(CuratedStream s, int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(s.next().id());
    }
    return out;
  }

  @Test
  void testFilesReallyHaveSeveralRowGroups() throws IOException {
    java.nio.file.Path f = write("part-0.parquet", "a", 50, 10);
    try (ParquetFileReader r =
        ParquetFileReader.open(
            HadoopInputFile.fromPath(new Path(f.toUri()), new Configuration()))) {
      assertThat(r.getRowGroups()).hasSize(5);
    }
  }

  @Test
  void readsEveryRowExactlyOncePerEpochInAShuffledOrder() throws IOException {
    List<String> all = threeFiles();
    try (CuratedStream s = open(new CuratedStream.Options(2, 3, 7L), CuratedStream.Cursor.START)) {
      List<String> epoch0 = take(s, all.size());
      List<String> epoch1 = take(s, all.size());
      assertThat(epoch0).containsExactlyInAnyOrderElementsOf(all);
      assertThat(epoch1).containsExactlyInAnyOrderElementsOf(all);
      assertThat(epoch0).isNotEqualTo(all);
      assertThat(epoch1).isNotEqualTo(epoch0);
      assertThat(s.cursor().epoch()).isEqualTo(1);
    }
  }

  @Test
  void decodesExamplesLikeTheInMemoryReader() throws IOException {
    threeFiles();
    CuratedDataset ds = CuratedDataset.read(dir.toString(), "train", SHA);
    try (CuratedStream s = open(new CuratedStream.Options(1, 1, 3L), CuratedStream.Cursor.START)) {
      for (int i = 0; i < ds.examples().size(); i++) {
        Example e = s.next();
        Example ref =
            ds.examples().stream().filter(x -> x.id().equals(e.id())).findFirst().orElseThrow();
        assertThat(e.tokens()).containsExactly(ref.tokens());
        assertThat(e.labels()).isEqualTo(ref.labels());
        assertThat(e.weight()).isEqualTo(ref.weight());
      }
    }
  }

  @Test
  void sameSeedGivesTheSameOrderAndAnotherSeedAnother() throws IOException {
    threeFiles();
    List<String> a;
    List<String> b;
    List<String> c;
    CuratedStream.Options o = new CuratedStream.Options(2, 2, 11L);
    try (CuratedStream s = open(o, CuratedStream.Cursor.START)) {
      a = take(s, 150);
    }
    try (CuratedStream s = open(o, CuratedStream.Cursor.START)) {
      b = take(s, 150);
    }
    try (CuratedStream s = open(new CuratedStream.Options(2, 2, 12L), CuratedStream.Cursor.START)) {
      c = take(s, 150);
    }
    assertThat(b).isEqualTo(a);
    assertThat(c).isNotEqualTo(a);
  }

  @Test
  void keepsAtMostTheBoundOfRowGroupsInMemory() throws IOException {
    threeFiles();
    CuratedStream.Options o = new CuratedStream.Options(2, 3, 5L);
    try (CuratedStream s = open(o, CuratedStream.Cursor.START)) {
      take(s, 1);
      // Let the reader run ahead as far as it can: it must block on the full queue.
      long deadline = System.nanoTime() + 2_000_000_000L;
      while (s.maxQueued() < 2 && System.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
      take(s, 350);
      // An unbounded reader would hold all 11 row groups of an epoch, and more as epochs pass.
      assertThat(s.maxQueued()).isBetween(1, 2);
      assertThat(s.maxResident()).isBetween(1, o.maxResidentRowGroups());
    }
  }

  @Test
  void aRestoredCursorGivesTheSameRemainingSequence() throws IOException {
    List<String> all = threeFiles();
    CuratedStream.Options o = new CuratedStream.Options(2, 3, 9L);
    List<String> reference;
    try (CuratedStream s = open(o, CuratedStream.Cursor.START)) {
      reference = take(s, 2 * all.size() + 20);
    }
    for (int cut : new int[] {0, 1, 29, 30, 31, 99, 100, 101, 157}) {
      String saved;
      try (CuratedStream s = open(o, CuratedStream.Cursor.START)) {
        take(s, cut);
        saved = s.cursor().encode();
      }
      try (CuratedStream s = open(o, CuratedStream.Cursor.parse(saved))) {
        List<String> rest = take(s, reference.size() - cut);
        assertThat(rest)
            .as("resumed after %d examples at %s", cut, saved)
            .isEqualTo(reference.subList(cut, reference.size()));
      }
    }
  }

  @Test
  void refusesAFolderWithoutSuccessMarker() throws IOException {
    write("part-0.parquet", "a", 5, 10);
    assertThatThrownBy(() -> open(new CuratedStream.Options(1, 1, 1L), CuratedStream.Cursor.START))
        .isInstanceOf(DataContractException.class)
        .hasMessageContaining(dir.toString())
        .hasMessageContaining("_SUCCESS");
  }

  @Test
  void refusesATokenizerMismatchNamingBothTokenizers() throws IOException {
    threeFiles();
    try (CuratedStream s =
        CuratedStream.open(
            dir.toString(),
            "train",
            "student-tok",
            "ef02",
            new Configuration(),
            new CuratedStream.Options(1, 1, 1L),
            CuratedStream.Cursor.START)) {
      assertThatThrownBy(s::next)
          .isInstanceOf(DataContractException.class)
          .hasMessageContaining("char-tok")
          .hasMessageContaining(SHA)
          .hasMessageContaining("student-tok")
          .hasMessageContaining("ef02");
    }
  }

  @Test
  void refusesRecordsThatMixTeachers() throws IOException {
    write("part-0.parquet", "a", 5, 10);
    CuratedDatasetTest.writeAvro(
        dir.resolve("split=train/part-1.parquet"),
        CuratedDatasetTest.record("b", 3, "teacher-b", 2f, SHA));
    Files.createFile(dir.resolve("_SUCCESS"));
    try (CuratedStream s = open(new CuratedStream.Options(1, 1, 1L), CuratedStream.Cursor.START)) {
      assertThatThrownBy(() -> take(s, 6))
          .isInstanceOf(DataContractException.class)
          .hasMessageContaining("teacher-a")
          .hasMessageContaining("teacher-b");
    }
  }

  @Test
  void namesATruncatedFile() throws IOException {
    write("part-0.parquet", "a", 20, 10);
    java.nio.file.Path bad = write("part-1.parquet", "b", 40, 10);
    byte[] bytes = Files.readAllBytes(bad);
    Files.write(bad, Arrays.copyOf(bytes, bytes.length / 2));
    Files.deleteIfExists(dir.resolve("split=train/.part-1.parquet.crc"));
    Files.createFile(dir.resolve("_SUCCESS"));
    try (CuratedStream s = open(new CuratedStream.Options(1, 1, 1L), CuratedStream.Cursor.START)) {
      assertThatThrownBy(() -> take(s, 60))
          .isInstanceOf(DataContractException.class)
          .hasMessageContaining("part-1.parquet");
    }
  }

  /** Trains a tiny student on the stream for 12 steps, checkpointing every 4; returns losses. */
  private List<Double> train(java.nio.file.Path ckpt, boolean resume) throws IOException {
    CuratedStream.Options o = new CuratedStream.Options(2, 2, 4L);
    TrainConfig tc =
        TrainConfig.builder(12, 5, 3e-3f).warmupSteps(2).evaluation(6, 1).seed(2L).build();
    List<Double> losses = new ArrayList<>();
    CharTokenizer tok = CharTokenizer.fromCorpus("0123456789");
    try (LanguageModel lm =
            LanguageModel.create(new GptConfig(tok.vocabSize(), 8, 1, 2, 16, 0f), tok, 2L);
        StreamingBatches train =
            new StreamingBatches(c -> open(o, c), 5, new DistillationLoss(0.5f, 2f))) {
      TrainingLoop.run(
          lm,
          train,
          new SoftLabelBatches(
              CuratedDataset.read(dir.toString(), "train", SHA).examples(),
              5,
              new DistillationLoss(0.5f, 2f)),
          tc,
          (step, total, loss, v, tps) -> losses.add(loss),
          new Checkpointing(ckpt, 4, 5, resume, Map.of()));
    }
    return losses;
  }

  @Test
  void trainingResumedFromACheckpointContinuesWithTheSameLossesAndData() throws IOException {
    threeFiles();
    java.nio.file.Path ckpt = dir.resolve("ckpt");
    List<Double> full = train(ckpt, false);
    String cursor8 =
        Files.readString(TrainingCheckpoints.dirOf(ckpt, 8).resolve(TrainingCheckpoints.STATE));
    assertThat(cursor8).contains("\"dataCursorKind\": \"stream\"").contains("epoch=0,file=");
    // As if the run had been killed after its step-4 checkpoint.
    for (int step : new int[] {8, 12}) {
      PathUtils.deleteDirectory(TrainingCheckpoints.dirOf(ckpt, step));
    }
    List<Double> resumed = train(ckpt, true);
    assertThat(resumed).hasSize(8).isEqualTo(full.subList(4, 12));
  }

  @Test
  void cursorRoundTripsAndRejectsGarbage() {
    CuratedStream.Cursor c = new CuratedStream.Cursor(3, 1, 4, 17);
    assertThat(CuratedStream.Cursor.parse(c.encode())).isEqualTo(c);
    assertThatThrownBy(() -> CuratedStream.Cursor.parse("epoch=1,file=2"))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
