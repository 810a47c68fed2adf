package dev.distill.models.autograd;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.util.function.BinaryOperator;

/**
 * Arithmetic between an array and a number that stays correct under autograd. Use these instead of
 * DJL's {@code NDArray} overloads that take a {@code Number} ({@code mul}, {@code muli}, {@code
 * div}, {@code divi}, {@code pow}, {@code maximum}, {@code minimum}); a build test ({@code
 * AutogradScalarOverloadsTest} in {@code deploy}) fails when one of those is called.
 *
 * <p>Why: on the PyTorch engine (DJL 0.35), {@code x.mul(3f)} wraps the number in a tensor made by
 * {@code torch::from_blob} over a JVM direct buffer, applies the op, and closes the wrapper at
 * once. Autograd keeps that tensor for the backward pass ({@code d(x c)/dx = c}) but does not own
 * its memory: once the garbage collector frees the buffer, the backward pass reads freed memory.
 * That gave gradients of 1e19 or NaN at random steps, more often the longer a run went (issue 5,
 * "NaN late in training"); {@code ScalarsTest} reproduces it with a forced GC. A scalar made by
 * {@code full} is owned by libtorch, so the reference autograd keeps also keeps its memory alive,
 * and the Java handle can be closed at once.
 */
public final class Scalars {
  private Scalars() {}

  /** A 0-d array of {@code like}'s type holding {@code value}, owned by libtorch. */
  public static NDArray of(NDArray like, float value) {
    return like.getManager().full(new Shape(), value, like.getDataType());
  }

  /** {@code x * c}. */
  public static NDArray mul(NDArray x, float c) {
    return withScalar(x, c, NDArray::mul);
  }

  /** {@code x *= c} in place; returns {@code x}. */
  public static NDArray muli(NDArray x, float c) {
    return withScalar(x, c, NDArray::muli);
  }

  /** {@code x / c}. */
  public static NDArray div(NDArray x, float c) {
    return withScalar(x, c, NDArray::div);
  }

  /** {@code x ^ c}. */
  public static NDArray pow(NDArray x, float c) {
    return withScalar(x, c, NDArray::pow);
  }

  /** {@code max(x, c)} elementwise. */
  public static NDArray maximum(NDArray x, float c) {
    return withScalar(x, c, NDArray::maximum);
  }

  /** {@code min(x, c)} elementwise. */
  public static NDArray minimum(NDArray x, float c) {
    return withScalar(x, c, NDArray::minimum);
  }

  /** {@code op(x, c)} with {@code c} as a libtorch-owned 0-d array, closed once the op returns. */
  private static NDArray withScalar(NDArray x, float c, BinaryOperator<NDArray> op) {
    try (NDArray s = of(x, c)) {
      return op.apply(x, s);
    }
  }
}
