package dev.distill.teacher;

import dev.distill.models.tokenizer.HfTokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/** The Hugging Face fixtures of {@code models} (made by its scripts), from this module's folder. */
public final class HfFixtures {
  private static final Path HF = Path.of("../models/src/test/resources/hf").toAbsolutePath();

  /** Qwen2-style: biases, tied head, byte-level BPE of 660 ids, embedding padded to 704 rows. */
  public static final Path QWEN2 = HF.resolve("qwen2").normalize();

  private HfFixtures() {}

  /** GPT-2's real tokenizer (50,257 ids) unpacked into {@code dir}, as a model folder has it. */
  public static HfTokenizer realGpt2(Path dir) throws IOException {
    Path src = HF.resolve("gpt2-real-tokenizer");
    Files.createDirectories(dir);
    try (InputStream in =
        new GZIPInputStream(Files.newInputStream(src.resolve("tokenizer.json.gz")))) {
      Files.copy(in, dir.resolve("tokenizer.json"));
    }
    for (String f : new String[] {"tokenizer_config.json", "special_tokens_map.json"}) {
      Files.copy(src.resolve(f), dir.resolve(f));
    }
    return HfTokenizer.load(dir);
  }
}
