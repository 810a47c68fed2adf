/**
 * Tokenizers for every stage (issue 12): one {@link dev.distill.models.tokenizer.Tokenizer}
 * abstraction with two implementations, our character-level {@link
 * dev.distill.models.tokenizer.CharTokenizer} (nanoGPT's shakespeare_char) and {@link
 * dev.distill.models.tokenizer.HfTokenizer}, a Hugging Face {@code tokenizer.json} run by the Rust
 * {@code tokenizers} library through DJL with the special tokens and chat template of the folder's
 * {@code tokenizer_config.json} / {@code special_tokens_map.json}. {@link
 * dev.distill.models.tokenizer.Tokenizers#load} tells the two apart by the content of a folder's
 * {@code tokenizer.json}; a tokenizer's identity is the sha256 of its defining file(s), and {@link
 * dev.distill.models.tokenizer.Tokenizers#requireSame} refuses a student whose tokenizer differs
 * from its teacher's, since soft labels carry the teacher's ids. {@link
 * dev.distill.models.tokenizer.ChatTemplate} renders a model's Jinja chat template with Jinjava as
 * {@code transformers}' {@code apply_chat_template} does with Jinja2.
 */
package dev.distill.models.tokenizer;
