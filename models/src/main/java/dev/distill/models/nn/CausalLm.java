package dev.distill.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * A decoder-only causal language model block of any family (our GPT, GPT-2, the Llama family):
 * input NDList(tokens (B, T) int32 or int64, T <= blockSize), output NDList(logits (B, T, V)
 * float32), plus an incremental forward through a {@link DecodeCache}. Block linear layers are
 * {@link LinearLayer}s, so every {@link LinearMode} applies to every family.
 */
public abstract class CausalLm extends AbstractBlock {

  private volatile BiConsumer<String, NDArray> inputObserver;

  protected CausalLm(byte version) {
    super(version);
  }

  /** The architecture. */
  public abstract LmConfig config();

  /** How the block linear layers compute. */
  public abstract LinearMode mode();

  /** Rank per block linear layer (in parameter order) of a low-rank model; empty otherwise. */
  public abstract Map<String, Integer> ranks();

  /** Block linear layer names in parameter order, each with its (out, in). */
  public abstract Map<String, long[]> linearShapes();

  /**
   * Incremental inference forward (no dropout; the caller switches gradient recording off): runs
   * {@code tokens} (B, t) at positions {@code cache.length() .. cache.length() + t - 1}, each
   * attending to the cached positions and to the new ones up to itself; appends the new keys and
   * values to {@code cache}, advances it, and returns the logits (B, t, V) of the new positions,
   * attached to the tokens' manager. It computes what a full forward over the whole prefix computes
   * at those positions (up to float rounding).
   */
  public abstract NDArray forwardCached(ParameterStore ps, NDArray tokens, DecodeCache cache);

  /**
   * Calls {@code observer} with (layer name, input (1, B * T, in): the rows of every position of
   * the batch) of every block linear layer in each forward, e.g. to collect calibration activations
   * for Wanda pruning; null stops observing.
   */
  public void observeLinearInputs(BiConsumer<String, NDArray> observer) {
    this.inputObserver = observer;
  }

  /**
   * {@code layer.forward} of the flat rows {@code x} (N, in) after showing them to the observer, if
   * any.
   */
  protected final NDArray linear(
      LinearLayer layer, NDArray x, ParameterStore ps, boolean training, DecodeCache cache) {
    BiConsumer<String, NDArray> observer = inputObserver;
    if (observer != null) {
      observer.accept(layer.name(), x.reshape(1, x.getShape().get(0), layer.in()));
    }
    return layer.forward(x, ps, training, cache);
  }

  /**
   * {@link LinearLayer#forwardFused} of {@code layers} after showing {@code x} to the observer, if
   * any, under each layer's name.
   */
  protected final NDArray linearFused(
      String fusedName,
      List<LinearLayer> layers,
      NDArray x,
      ParameterStore ps,
      boolean training,
      DecodeCache cache) {
    BiConsumer<String, NDArray> observer = inputObserver;
    if (observer != null) {
      NDArray rows = x.reshape(1, x.getShape().get(0), layers.get(0).in());
      layers.forEach(l -> observer.accept(l.name(), rows));
    }
    return LinearLayer.forwardFused(fusedName, layers, x, ps, training, cache);
  }

  /** Inverted dropout with probability {@code p} when training; {@code x} itself otherwise. */
  protected static NDArray dropout(NDArray x, float p, boolean training) {
    if (!training || p == 0f) {
      return x;
    }
    return x.getNDArrayInternal().dropout(x, p, true).singletonOrThrow();
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    Shape in = inputShapes[0];
    return new Shape[] {new Shape(in.get(0), in.get(1), config().vocabSize())};
  }
}
