package dev.distill.teacher.inference;

import dev.distill.models.tokenizer.Tokenizer;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Predicate;

/**
 * What the OpenAI-compatible {@code /v1/completions} and {@code /v1/chat/completions} need of a
 * teacher: its tokenizer, prompt scoring and sampling with per-token log-probabilities. A teacher
 * offers it through {@link Teacher#textGeneration()}; every in-process teacher does ({@link
 * InProcessTeacher}: our GPT, a Hugging Face folder, a TorchScript model).
 *
 * <p>Log-probabilities are the model's own (T = 1), as vLLM and the OpenAI API report them,
 * whatever temperature the tokens are sampled at.
 */
public interface TextGeneration {

  /** One generated (or scored) token: its id, log-probability and the top alternatives. */
  record TokenLogprob(int id, float logprob, int[] topIds, float[] topLogprobs) {}

  /** The tokenizer of the ids (and the chat template, where it has one). */
  Tokenizer tokenizer();

  /** The longest input the model takes; longer prompts are cropped to their last tokens. */
  int contextTokens();

  /**
   * Ids that end a generation (end of sequence: the tokenizer's EOS, and those of the model's
   * {@code generation_config.json}); empty when the model has none (our char GPT).
   */
  Set<Integer> endTokenIds();

  /**
   * Log-probabilities at T = 1 of every token of {@code tokens} after the first, each with its top
   * {@code k} alternatives.
   */
  List<TokenLogprob> score(int[] tokens, int k);

  /**
   * Samples up to {@code maxTokens} tokens after {@code prompt} at {@code temperature} (0 =
   * greedy), cropping the context to {@link #contextTokens()}; {@code stopAfter} sees the tokens
   * generated so far after each new one (a streaming answer sends them from there) and ends the
   * generation when it returns true. Generation also ends after a token of {@link #endTokenIds()}
   * (it is the last of the list).
   */
  List<TokenLogprob> generate(
      int[] prompt,
      int maxTokens,
      float temperature,
      int k,
      Random rng,
      Predicate<List<TokenLogprob>> stopAfter);
}
