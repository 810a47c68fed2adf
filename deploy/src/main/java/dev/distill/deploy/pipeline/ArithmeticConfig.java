package dev.distill.deploy.pipeline;

/**
 * The arithmetic chain-of-thought workload of the embedded default (keys {@code arith.*}).
 *
 * @param enabled run the workload at all
 * @param trainProblems problems whose gold rationales train the teacher
 * @param blockSize context length of teacher and students
 * @param teacherSteps teacher optimiser steps (same width and depth as the Shakespeare teacher)
 * @param teacherBatch teacher batch size
 * @param labelledProblems problems the teacher samples rationales for
 * @param rationales rationales sampled per problem (n, for self-consistency)
 * @param sampleTemperature sampling temperature of the rationales
 * @param requireGold curation drops problems whose majority answer differs from the gold one
 * @param studentLayers student depth
 * @param studentHeads student heads
 * @param studentEmbd student width
 * @param studentSteps student optimiser steps
 * @param studentBatch student batch size
 * @param evalProblems held-out problems per evaluation slice
 */
record ArithmeticConfig(
    boolean enabled,
    int trainProblems,
    int blockSize,
    int teacherSteps,
    int teacherBatch,
    int labelledProblems,
    int rationales,
    float sampleTemperature,
    boolean requireGold,
    int studentLayers,
    int studentHeads,
    int studentEmbd,
    int studentSteps,
    int studentBatch,
    int evalProblems) {
  public ArithmeticConfig {
    // Each key's own range is checked where it is declared (ConfigKeys); here the rules across
    // keys.
    if (labelledProblems > trainProblems) {
      throw new IllegalArgumentException("arith.labelled-problems must be <= arith.train-problems");
    }
  }

  /** The components collected by {@link DemoConfig#from}; {@link #build} validates. */
  static final class Builder {
    boolean enabled;
    int trainProblems;
    int blockSize;
    int teacherSteps;
    int teacherBatch;
    int labelledProblems;
    int rationales;
    float sampleTemperature;
    boolean requireGold;
    int studentLayers;
    int studentHeads;
    int studentEmbd;
    int studentSteps;
    int studentBatch;
    int evalProblems;

    ArithmeticConfig build() {
      return new ArithmeticConfig(
          enabled,
          trainProblems,
          blockSize,
          teacherSteps,
          teacherBatch,
          labelledProblems,
          rationales,
          sampleTemperature,
          requireGold,
          studentLayers,
          studentHeads,
          studentEmbd,
          studentSteps,
          studentBatch,
          evalProblems);
    }
  }
}
