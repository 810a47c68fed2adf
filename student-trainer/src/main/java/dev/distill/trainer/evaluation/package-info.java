/**
 * Scoring students against their teacher on held-out data: loss, top-1 agreement, divergences and
 * calibration, per-slice tables, exact match for reasoning tasks, generation speed, and the gates a
 * scheduler checks.
 */
package dev.distill.trainer.evaluation;
