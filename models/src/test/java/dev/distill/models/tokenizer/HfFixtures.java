package dev.distill.models.tokenizer;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * The Hugging Face tokenizer fixtures of {@code src/test/resources/hf} (made by {@code
 * src/test/python/train_bpe.py} and {@code make_gpt2_tokenizer.py}, see the README there). Paths
 * are relative to the module folder, surefire's working directory.
 */
final class HfFixtures {
  static final Path BPE = Path.of("src/test/resources/hf/bpe-shakespeare");
  static final Path GPT2_REAL = Path.of("src/test/resources/hf/gpt2-real-tokenizer");
  static final Path CORPUS = Path.of("../deploy/src/main/resources/corpus/tinyshakespeare.txt");

  private HfFixtures() {}

  static JsonObject expected(Path dir) throws IOException {
    return JsonParser.parseString(Files.readString(dir.resolve("expected.json"))).getAsJsonObject();
  }

  static int[] ints(JsonArray a) {
    int[] out = new int[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).getAsInt();
    }
    return out;
  }

  /** GPT-2's real tokenizer as a folder: tokenizer.json (gunzipped) and its two config files. */
  static Path gpt2Folder(Path tmp) throws IOException {
    Path dir = tmp.resolve("gpt2-real");
    Files.createDirectories(dir);
    try (InputStream in =
        new GZIPInputStream(Files.newInputStream(GPT2_REAL.resolve("tokenizer.json.gz")))) {
      Files.copy(in, dir.resolve("tokenizer.json"));
    }
    for (String f : new String[] {"tokenizer_config.json", "special_tokens_map.json"}) {
      Files.copy(GPT2_REAL.resolve(f), dir.resolve(f));
    }
    return dir;
  }

  static String corpus() throws IOException {
    return Files.readString(CORPUS, StandardCharsets.UTF_8);
  }
}
