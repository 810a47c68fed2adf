/**
 * What the trainer reads per example (token ids with the teacher's top-k soft labels) and the
 * tensors of one knowledge-distillation batch.
 */
package dev.distill.trainer.data;
