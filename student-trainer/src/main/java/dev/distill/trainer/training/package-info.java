/**
 * Training a student: the loop (AdamW, linear warmup then cosine decay, global-norm clipping, as
 * nanoGPT's train.py) configured by {@link dev.distill.trainer.training.TrainConfig}, the batch
 * sources it draws from (soft labels, text windows, cross-tokenizer and on-policy batches), its
 * resumable checkpoints and early stopping.
 */
package dev.distill.trainer.training;
