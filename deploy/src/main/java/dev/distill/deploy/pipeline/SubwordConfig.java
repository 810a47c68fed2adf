package dev.distill.deploy.pipeline;

/**
 * The subword workload of the embedded default (keys {@code subword.*}): tiny Shakespeare through
 * the bundled byte-level BPE tokenizer (660 ids), a Llama-family teacher (RoPE, RMSNorm, SwiGLU,
 * grouped-query attention) and a Llama-family student of about a quarter of its parameters.
 *
 * @param blockSize context length in tokens of teacher and students
 * @param teacherLayers teacher depth
 * @param teacherHeads teacher query heads
 * @param teacherKvHeads teacher key/value heads (grouped-query attention)
 * @param teacherHidden teacher width
 * @param teacherIntermediate teacher SwiGLU inner width
 * @param teacherSteps teacher optimiser steps
 * @param teacherBatch teacher batch size
 * @param teacherLr teacher peak learning rate
 * @param trainWindows train-text windows labelled
 * @param valWindows val-text windows labelled
 * @param studentLayers student depth
 * @param studentHeads student query heads
 * @param studentKvHeads student key/value heads
 * @param studentHidden student width
 * @param studentIntermediate student SwiGLU inner width
 * @param studentSteps student optimiser steps
 * @param studentBatch student batch size
 * @param evalWindows windows of held-out text evaluated
 */
record SubwordConfig(
    int blockSize,
    int teacherLayers,
    int teacherHeads,
    int teacherKvHeads,
    int teacherHidden,
    int teacherIntermediate,
    int teacherSteps,
    int teacherBatch,
    float teacherLr,
    int trainWindows,
    int valWindows,
    int studentLayers,
    int studentHeads,
    int studentKvHeads,
    int studentHidden,
    int studentIntermediate,
    int studentSteps,
    int studentBatch,
    int evalWindows) {
  public SubwordConfig {
    // Each key's own range is checked where it is declared (ConfigKeys); here the rules across
    // keys.
    requireHeads("subword.teacher", teacherHidden, teacherHeads, teacherKvHeads);
    requireHeads("subword.student", studentHidden, studentHeads, studentKvHeads);
  }

  private static void requireHeads(String prefix, int hidden, int heads, int kvHeads) {
    if (hidden % heads != 0) {
      throw new IllegalArgumentException(
          prefix + "-hidden " + hidden + " is not a multiple of " + prefix + "-heads " + heads);
    }
    if (heads % kvHeads != 0) {
      throw new IllegalArgumentException(
          prefix + "-heads " + heads + " is not a multiple of " + prefix + "-kv-heads " + kvHeads);
    }
  }

  /** The components collected by {@link DemoConfig#from}; {@link #build} validates. */
  static final class Builder {
    int blockSize;
    int teacherLayers;
    int teacherHeads;
    int teacherKvHeads;
    int teacherHidden;
    int teacherIntermediate;
    int teacherSteps;
    int teacherBatch;
    float teacherLr;
    int trainWindows;
    int valWindows;
    int studentLayers;
    int studentHeads;
    int studentKvHeads;
    int studentHidden;
    int studentIntermediate;
    int studentSteps;
    int studentBatch;
    int evalWindows;

    SubwordConfig build() {
      return new SubwordConfig(
          blockSize,
          teacherLayers,
          teacherHeads,
          teacherKvHeads,
          teacherHidden,
          teacherIntermediate,
          teacherSteps,
          teacherBatch,
          teacherLr,
          trainWindows,
          valWindows,
          studentLayers,
          studentHeads,
          studentKvHeads,
          studentHidden,
          studentIntermediate,
          studentSteps,
          studentBatch,
          evalWindows);
    }
  }
}
