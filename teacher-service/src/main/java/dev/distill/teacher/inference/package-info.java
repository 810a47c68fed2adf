/**
 * Teachers and what they compute: the {@link dev.distill.teacher.inference.Teacher} interface, the
 * in-process ones (our GPT, TorchScript, Hugging Face folders) with exact top-k soft labels at T,
 * sampled rationales and text generation, dynamic batching, and the teacher identity recorded with
 * every label.
 */
package dev.distill.teacher.inference;
