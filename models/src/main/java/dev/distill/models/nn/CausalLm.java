package dev.distill.models.nn;

import static ai.djl.ndarray.types.SparseFormat.DENSE;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
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
   * at those positions (up to float rounding): the same blocks and the same {@link LinearLayer}
   * path, so every {@link LinearMode} computes as in a full forward. Cost per decoded token: the
   * linear layers on one position instead of the whole context, and attention over the cached
   * length.
   */
  public final NDArray forwardCached(ParameterStore ps, NDArray tokens, DecodeCache cache) {
    NDArray logits = run(ps, tokens, cache.length(), false, cache);
    cache.advance(Math.toIntExact(tokens.getShape().get(1)));
    return logits;
  }

  @Override
  protected final NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    return new NDList(run(ps, inputs.singletonOrThrow(), 0, training, null));
  }

  /**
   * Logits (B, T, V) of {@code tokens} (B, T) at positions {@code p0 ..}. The residual stream is
   * kept flat, (B * T, C), from the embedding to the head: every linear layer then is one matrix
   * product (addmm) forward and one per gradient backward, without the reshapes a (B, T, C) input
   * costs (issue 13).
   */
  private NDArray run(
      ParameterStore ps, NDArray tokens, int p0, boolean training, DecodeCache cache) {
    Pass pass = new Pass(ps, training, cache, tokens.getShape().get(0), tokens.getShape().get(1));
    NDArray x = embed(tokens, p0, pass);
    x = x.reshape(pass.batch() * pass.length(), x.getShape().get(2));
    for (int l = 0; l < config().nLayer(); l++) {
      x = block(l, x, pass);
    }
    return head(x, pass).reshape(pass.batch(), pass.length(), -1);
  }

  /**
   * The embeddings (B, T, C) of {@code tokens} (B, T) at positions {@code p0 .. p0 + T - 1}, after
   * checking them.
   */
  protected abstract NDArray embed(NDArray tokens, int p0, Pass pass);

  /**
   * {@code tokens} (B, T) as the int64 index array an embedding takes, after checking the shape,
   * the type (int32 or int64) and that positions {@code p0 .. p0 + T - 1} fit below {@code
   * positions} (named {@code limitName} in the error).
   *
   * @throws IllegalArgumentException for another shape or type, or positions past the limit
   */
  protected static NDArray embeddingIndex(
      NDArray tokens, int p0, long positions, String limitName) {
    if (tokens.getShape().dimension() != 2) {
      throw new IllegalArgumentException("tokens must be (B, T), got " + tokens.getShape());
    }
    long t = tokens.getShape().get(1);
    if (t < 1 || p0 + t > positions) {
      throw new IllegalArgumentException(
          "positions ["
              + p0
              + ", "
              + (p0 + t)
              + ") outside [0, "
              + limitName
              + "="
              + positions
              + "]");
    }
    DataType type = tokens.getDataType();
    if (type != DataType.INT64 && type != DataType.INT32) {
      throw new IllegalArgumentException("tokens must be int32 or int64, got " + type);
    }
    return type == DataType.INT64 ? tokens : tokens.toType(DataType.INT64, false);
  }

  /**
   * Rows {@code idx} of the embedding table {@code table} through the native embedding op (its
   * backward is a fast scatter), invoked on {@code tokens} so the result lives on the step's
   * manager rather than the model's.
   */
  protected static NDArray lookup(NDArray tokens, NDArray idx, Parameter table, Pass pass) {
    return tokens
        .getNDArrayInternal()
        .embedding(idx, pass.ps().getValue(table, tokens.getDevice(), pass.training()), DENSE)
        .singletonOrThrow();
  }

  /**
   * Learned position embeddings (T, C) of positions {@code p0 .. p0 + T - 1} for {@code tokens} (B,
   * T). Positions go through the embedding op too: slicing the table would make the parameter the
   * first operand (result on the model's manager).
   */
  protected static NDArray positionEmbedding(NDArray tokens, int p0, Parameter table, Pass pass) {
    long t = tokens.getShape().get(1);
    NDArray positions = tokens.getManager().arange(p0, (int) (p0 + t), 1, DataType.INT64);
    return lookup(tokens, positions, table, pass);
  }

  /** Block {@code layer} on the flat stream {@code x} (B * T, C). */
  protected abstract NDArray block(int layer, NDArray x, Pass pass);

  /** The final norm and the output head: logits (B * T, V) of the flat stream. */
  protected abstract NDArray head(NDArray x, Pass pass);

  /**
   * Calls {@code observer} with (layer name, input (1, B * T, in): the rows of every position of
   * the batch) of every block linear layer in each forward, e.g. to collect calibration activations
   * for Wanda pruning; null stops observing.
   */
  public void observeLinearInputs(BiConsumer<String, NDArray> observer) {
    this.inputObserver = observer;
  }

  /**
   * What every block of one forward needs besides its input: the parameter store, whether it
   * trains, the cache of a cached forward (null otherwise), and the batch's B and T (the blocks see
   * the flat rows (B * T, C)).
   */
  public record Pass(
      ParameterStore ps, boolean training, DecodeCache cache, long batch, long length) {}

  /**
   * {@code layer.forward} of the flat rows {@code x} (N, in) after showing them to the observer, if
   * any.
   */
  protected final NDArray linear(LinearLayer layer, NDArray x, Pass pass) {
    observe(List.of(layer), x);
    return layer.forward(x, pass.ps(), pass.training(), pass.cache());
  }

  /**
   * {@link LinearLayer#forwardFused} of {@code layers} after showing {@code x} to the observer, if
   * any, under each layer's name.
   */
  protected final NDArray linearFused(
      String fusedName, List<LinearLayer> layers, NDArray x, Pass pass) {
    observe(layers, x);
    return LinearLayer.forwardFused(fusedName, layers, x, pass.ps(), pass.training(), pass.cache());
  }

  private void observe(List<LinearLayer> layers, NDArray x) {
    BiConsumer<String, NDArray> observer = inputObserver;
    if (observer != null) {
      NDArray rows = x.reshape(1, x.getShape().get(0), layers.get(0).in());
      layers.forEach(l -> observer.accept(l.name(), rows));
    }
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
