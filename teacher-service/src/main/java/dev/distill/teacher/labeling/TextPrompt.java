package dev.distill.teacher.labeling;

/**
 * A piece of text to label.
 *
 * @param promptId stable id of the prompt
 * @param source data set / slice name, e.g. shakespeare/train
 * @param tokens token ids of the text (positions + 1)
 */
public record TextPrompt(String promptId, String source, int[] tokens) {}
