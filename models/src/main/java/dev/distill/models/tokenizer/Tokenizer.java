package dev.distill.models.tokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Text to token ids and back, for every stage (label, serve, curate, train, eval, demo). Two
 * implementations: {@link CharTokenizer} (one id per Unicode code point, nanoGPT's
 * shakespeare_char) and {@link HfTokenizer} (a Hugging Face {@code tokenizer.json} run by the Rust
 * {@code tokenizers} library through DJL).
 *
 * <p>Identity: two tokenizers are the same tokenizer iff their {@link #sha256()} are equal; soft
 * labels carry token ids, so a student may learn from a teacher's labels only when both sides'
 * sha256 agree (issue 12).
 *
 * <p>Implementations are immutable and thread-safe. {@link #close()} releases native memory where
 * an implementation holds some (the Rust tokenizer of {@code HfTokenizer}); the owner of a
 * tokenizer closes it once no thread uses it any more.
 */
public interface Tokenizer extends AutoCloseable {

  /**
   * Encodes {@code text} to ids, adding no special tokens (no BOS/EOS): the ids of a text are the
   * ids of the model's input and soft labels, position by position.
   *
   * @throws IllegalArgumentException when the text cannot be encoded (naming the character and its
   *     index)
   */
  int[] encode(String text);

  /**
   * Decodes ids to text (special tokens included as their text).
   *
   * @throws IllegalArgumentException for an id outside {@code [0, vocabSize)}
   */
  String decode(int[] ids);

  /** Number of ids the tokenizer can produce and decode: ids are {@code [0, vocabSize)}. */
  int vocabSize();

  /** A short human-readable id, e.g. {@code char-65-1a2b3c4d5e6f}: kind, size and sha256 prefix. */
  String id();

  /** SHA-256 (lower-case hex) of the tokenizer's defining file(s): its identity. */
  String sha256();

  /** BOS / EOS / PAD / UNK ids, where the tokenizer defines them. */
  SpecialTokens specialTokens();

  /**
   * The id of one vocabulary entry given as its token string, exactly as the vocabulary spells it
   * (byte-level BPE tokens included, e.g. {@code "Ġthe"}); empty when no entry has that string.
   * Used to map a remote teacher's {@code top_logprobs} token strings to ids: never a guess.
   */
  OptionalInt tokenId(String token);

  /**
   * The vocabulary entry of {@code id} as the vocabulary spells it (inverse of {@link #tokenId}).
   */
  String token(int id);

  /** The Jinja chat template of an instruction-tuned model ({@code tokenizer_config.json}). */
  default Optional<String> chatTemplate() {
    return Optional.empty();
  }

  /**
   * Writes the file(s) that define this tokenizer into folder {@code dir} (e.g. a checkpoint or an
   * exported model folder); {@link Tokenizers#load(Path)} reads them back to an equal tokenizer.
   */
  void saveTo(Path dir) throws IOException;

  /**
   * Releases native resources, if any (none for {@link CharTokenizer}); idempotent. Every other
   * method may throw {@link IllegalStateException} afterwards.
   */
  @Override
  default void close() {}

  /** Special token ids; each absent when the tokenizer has no such token. */
  record SpecialTokens(OptionalInt bos, OptionalInt eos, OptionalInt pad, OptionalInt unk) {
    public static final SpecialTokens NONE =
        new SpecialTokens(
            OptionalInt.empty(), OptionalInt.empty(), OptionalInt.empty(), OptionalInt.empty());
  }
}
