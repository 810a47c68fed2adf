/**
 * Compressed students: pruning, low-rank factorisation (through an SVD), self-compression of the
 * bit depth during training, and a live teacher's batches for fine-tuning them.
 */
package dev.distill.trainer.compression;
