package dev.distill.models.tokenizer;

import static dev.distill.models.tokenizer.HfFixtures.BPE;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Loads the byte-level BPE fixture tokenizer once per test class and closes it after. */
abstract class BpeTokenizerFixture {
  static HfTokenizer bpe;

  @BeforeAll
  static void loadBpe() throws Exception {
    bpe = HfTokenizer.load(BPE);
  }

  @AfterAll
  static void closeBpe() {
    bpe.close();
  }
}
