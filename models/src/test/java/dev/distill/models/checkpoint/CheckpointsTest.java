package dev.distill.models.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.distill.models.gpt.Gpt;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.nn.LinearMode;
import dev.distill.models.tokenizer.CharTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointsTest {

  private static final CharTokenizer TOKENIZER = CharTokenizer.fromCorpus("to be or not to be?");
  private static final GptConfig CONFIG = new GptConfig(TOKENIZER.vocabSize(), 16, 2, 2, 32, 0.1f);
  private static final int[][] TOKENS = {{1, 2, 3, 4, 5, 6}, {6, 5, 4, 3, 2, 1}};
  private static LanguageModel lm;

  @TempDir Path tmp;

  @BeforeAll
  static void createModel() {
    lm = LanguageModel.create(CONFIG, TOKENIZER, 7);
  }

  @AfterAll
  static void closeModel() {
    lm.close();
  }

  @Test
  void saveThenLoadGivesIdenticalLogitsAndParameters() throws IOException {
    Path dir = tmp.resolve("ckpt");
    Checkpoints.save(lm, dir, Map.of("step", "100"));
    try (LanguageModel loaded = Checkpoints.load(dir);
        NDManager manager = NDManager.newBaseManager()) {
      assertThat(loaded.config()).isEqualTo(CONFIG);
      assertThat(loaded.tokenizer().sha256()).isEqualTo(TOKENIZER.sha256());
      assertThat(loaded.parametersSha256()).isEqualTo(lm.parametersSha256());
      assertThat(loaded.logits(manager, TOKENS).toFloatArray())
          .containsExactly(lm.logits(manager, TOKENS).toFloatArray());
    }
  }

  @Test
  void folderHoldsTheDocumentedFilesAndNoTempLeftovers() throws IOException {
    Path dir = tmp.resolve("ckpt");
    Checkpoints.save(lm, dir, Map.of());
    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrder(
              "config.json", "tokenizer.json", "parameters.bin", "metadata.json", "manifest.json");
    }
    try (Stream<Path> siblings = Files.list(tmp)) {
      assertThat(siblings).containsExactly(dir);
    }
  }

  @Test
  void metadataRoundTripsAndAnExistingFolderIsReplaced() throws IOException {
    Path dir = tmp.resolve("ckpt");
    Checkpoints.save(lm, dir, Map.of("step", "1", "loss", "3.5"));
    Files.writeString(dir.resolve("stale.txt"), "from an older save");
    Checkpoints.save(lm, dir, Map.of("step", "2"));
    assertThat(Checkpoints.metadata(dir)).isEqualTo(Map.of("step", "2"));
    assertThat(dir.resolve("stale.txt")).doesNotExist();
    try (Stream<Path> siblings = Files.list(tmp)) {
      assertThat(siblings).containsExactly(dir);
    }
  }

  @Test
  void tamperedParametersFileFailsLoadingNamingTheFile() throws IOException {
    Path dir = tmp.resolve("ckpt");
    Checkpoints.save(lm, dir, Map.of());
    Path params = dir.resolve("parameters.bin");
    byte[] bytes = Files.readAllBytes(params);
    bytes[bytes.length - 3] ^= 0x01;
    Files.write(params, bytes);
    assertLoadFailsNaming(dir, "parameters.bin");
  }

  @Test
  void missingFileFailsLoadingNamingTheFile() throws IOException {
    Path dir = tmp.resolve("ckpt");
    Checkpoints.save(lm, dir, Map.of());
    Files.delete(dir.resolve("tokenizer.json"));
    assertLoadFailsNaming(dir, "tokenizer.json");
    Files.delete(dir.resolve("manifest.json"));
    assertLoadFailsNaming(dir, "manifest.json");
  }

  @Test
  void sizeOnDiskIsTheSumOfTheFilesAndDominatedByParameters() throws IOException {
    Path dir = tmp.resolve("ckpt");
    Checkpoints.save(lm, dir, Map.of());
    long sum = 0;
    try (Stream<Path> files = Files.list(dir)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        sum += Files.size(p);
      }
    }
    assertThat(Checkpoints.sizeOnDisk(dir)).isEqualTo(sum);
    assertThat(Checkpoints.sizeOnDisk(dir)).isGreaterThan(4 * CONFIG.parameterCount());
  }

  /** Ranks 1..8 cycling over the layers, so no two neighbouring layers share a rank. */
  private static Map<String, Integer> mixedRanks() {
    Map<String, Integer> ranks = new LinkedHashMap<>();
    int i = 0;
    for (String layer : Gpt.linearShapes(CONFIG).keySet()) {
      ranks.put(layer, 1 + (i++ * 3) % 8);
    }
    return ranks;
  }

  @Test
  void lowRankCheckpointWithMixedRanksLoadsWithTheSameRanksAndLogits() throws IOException {
    Map<String, Integer> ranks = mixedRanks();
    assertThat(new java.util.HashSet<>(ranks.values())).hasSizeGreaterThan(3);
    Path dir = tmp.resolve("low");
    try (LanguageModel low = LanguageModel.create(CONFIG, TOKENIZER, 11, ranks);
        NDManager manager = NDManager.newBaseManager()) {
      Checkpoints.save(low, dir, Map.of("step", "5"));
      try (LanguageModel loaded = Checkpoints.load(dir)) {
        assertThat(loaded.mode()).isEqualTo(LinearMode.LOW_RANK);
        assertThat(loaded.block().ranks()).containsExactlyEntriesOf(ranks);
        assertThat(loaded.parametersSha256()).isEqualTo(low.parametersSha256());
        assertThat(loaded.logits(manager, TOKENS).toFloatArray())
            .containsExactly(low.logits(manager, TOKENS).toFloatArray());
      }
    }
    assertThat(Checkpoints.metadata(dir)).containsEntry("step", "5").containsKey(Checkpoints.RANKS);
  }

  @Test
  void denseCheckpointRecordsNoRanksAndLoadsDense() throws IOException {
    Path dir = tmp.resolve("dense");
    Checkpoints.save(lm, dir, Map.of());
    assertThat(Checkpoints.metadata(dir)).doesNotContainKey(Checkpoints.RANKS);
    try (LanguageModel loaded = Checkpoints.load(dir)) {
      assertThat(loaded.mode()).isEqualTo(LinearMode.DENSE);
    }
  }

  @Test
  void lowRankCheckpointWrittenWithoutRanksFailsNamingTheMetadataFile() throws IOException {
    Path dir = tmp.resolve("old-low");
    try (LanguageModel low = LanguageModel.create(CONFIG, TOKENIZER, 11, mixedRanks())) {
      Checkpoints.save(low, dir, Map.of());
    }
    // What a checkpoint from before this change holds: the mode, no ranks, a consistent manifest.
    Path metadata = rewriteMetadata(dir, meta -> meta.remove(Checkpoints.RANKS));

    assertLoadFailsNaming(dir, metadata.toString(), Checkpoints.RANKS);
  }

  @Test
  void lowRankCheckpointWithUnreadableRanksFailsNamingTheMetadataFile() throws IOException {
    Path dir = tmp.resolve("bad-low");
    try (LanguageModel low = LanguageModel.create(CONFIG, TOKENIZER, 11, mixedRanks())) {
      Checkpoints.save(low, dir, Map.of());
    }
    Path metadata = rewriteMetadata(dir, meta -> meta.addProperty(Checkpoints.RANKS, "[1, 2]"));

    assertLoadFailsNaming(dir, metadata.toString(), "JSON object of layer name to rank");
  }

  /** Edits metadata.json and re-hashes it in the manifest, so only the edit is under test. */
  private static Path rewriteMetadata(Path dir, java.util.function.Consumer<JsonObject> edit)
      throws IOException {
    Path metadata = dir.resolve(Checkpoints.METADATA);
    JsonObject meta = JsonParser.parseString(Files.readString(metadata)).getAsJsonObject();
    edit.accept(meta);
    Files.writeString(metadata, meta.toString());
    Path manifestFile = dir.resolve(Checkpoints.MANIFEST);
    JsonObject manifest = JsonParser.parseString(Files.readString(manifestFile)).getAsJsonObject();
    manifest
        .getAsJsonObject("sha256")
        .addProperty(Checkpoints.METADATA, Checkpoints.sha256(metadata));
    Files.writeString(manifestFile, manifest.toString());
    return metadata;
  }

  /** Loading {@code dir} fails with a CheckpointException whose message names all {@code parts}. */
  private static void assertLoadFailsNaming(Path dir, String... parts) {
    assertThatThrownBy(() -> Checkpoints.load(dir))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContainingAll(parts);
  }
}
