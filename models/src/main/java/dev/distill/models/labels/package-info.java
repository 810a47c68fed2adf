/**
 * Soft labels from logits: {@code TopKTail} keeps the top-k probabilities at temperature T and the
 * tail mass, the one implementation the teacher service and on-policy training share.
 */
package dev.distill.models.labels;
