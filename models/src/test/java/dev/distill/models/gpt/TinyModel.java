package dev.distill.models.gpt;

import dev.distill.models.tokenizer.Tokenizer;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A freshly initialised {@link LanguageModel} shared by one test class: created before its first
 * test and closed after its last. Register it with {@code @RegisterExtension static final}.
 */
public final class TinyModel implements BeforeAllCallback, AfterAllCallback {
  private final GptConfig config;
  private final Tokenizer tokenizer;
  private final long seed;
  private LanguageModel lm;

  public TinyModel(GptConfig config, Tokenizer tokenizer, long seed) {
    this.config = config;
    this.tokenizer = tokenizer;
    this.seed = seed;
  }

  /** The model; only valid while the test class runs. */
  public LanguageModel lm() {
    return lm;
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    lm = LanguageModel.create(config, tokenizer, seed);
  }

  @Override
  public void afterAll(ExtensionContext context) {
    lm.close();
  }
}
