package dev.distill.models.nn;

import ai.djl.nn.Parameter;

/**
 * Adds a parameter to the model block that owns a part ({@code AbstractBlock::addParameter}). The
 * parts of this package are not DJL child blocks: a model keeps every parameter as a direct
 * parameter under its checkpoint name, in a fixed order, so its saved parameters keep their format.
 */
@FunctionalInterface
public interface ParameterRegistry {
  Parameter add(Parameter parameter);
}
