package dev.distill.models.nn;

import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;

/**
 * Adds a parameter to the model block that owns a part ({@code AbstractBlock::addParameter}). The
 * parts of this package are not DJL child blocks: a model keeps every parameter as a direct
 * parameter under its checkpoint name, in a fixed order, so its saved parameters keep their format.
 */
@FunctionalInterface
public interface ParameterRegistry {
  Parameter add(Parameter parameter);

  /** Adds a parameter named {@code name} of {@code type} and {@code shape}; returns it. */
  default Parameter add(String name, Parameter.Type type, Shape shape) {
    return add(Parameter.builder().setName(name).setType(type).optShape(shape).build());
  }
}
