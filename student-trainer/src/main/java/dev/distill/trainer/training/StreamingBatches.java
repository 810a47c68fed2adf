package dev.distill.trainer.training;

import ai.djl.ndarray.NDManager;
import dev.distill.trainer.io.CuratedStream;
import dev.distill.trainer.loss.DistillationLoss;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Objects;
import java.util.Random;

/**
 * Distillation batches read in order from a {@link CuratedStream} (shuffled by the stream's seeded
 * windows, each example once per epoch), for data sets too large for {@link SoftLabelBatches}'
 * in-memory sampling. The sampling RNG is not used; the stream's cursor is the data cursor saved in
 * checkpoints, and {@link #seek(String)} reopens the stream there. Meant for the training side:
 * each call moves the stream on, so validation, which must score the same batches at every
 * evaluation, keeps {@link SoftLabelBatches} over the (small) val split.
 */
public final class StreamingBatches implements BatchSource, AutoCloseable {
  /** Opens the stream at a cursor (the curated root, split, tokenizer and options are bound). */
  @FunctionalInterface
  public interface Opener {
    CuratedStream open(CuratedStream.Cursor from) throws IOException;
  }

  private final Opener opener;
  private final int batchSize;
  private final DistillationLoss loss;
  private CuratedStream stream;

  public StreamingBatches(Opener opener, int batchSize, DistillationLoss loss) {
    if (batchSize < 1) {
      throw new IllegalArgumentException("batchSize must be >= 1: " + batchSize);
    }
    this.opener = Objects.requireNonNull(opener, "opener");
    this.batchSize = batchSize;
    this.loss = Objects.requireNonNull(loss, "loss");
  }

  @Override
  public Batch next(NDManager manager, Random rng) {
    CuratedStream s = stream(CuratedStream.Cursor.START);
    return DistillationBatches.next(manager, batchSize, s::next, loss);
  }

  @Override
  public String cursor() {
    return stream(CuratedStream.Cursor.START).cursor().encode();
  }

  @Override
  public void seek(String cursor) {
    close();
    stream(CuratedStream.Cursor.parse(cursor));
  }

  @Override
  public void close() {
    if (stream != null) {
      stream.close();
      stream = null;
    }
  }

  private CuratedStream stream(CuratedStream.Cursor from) {
    if (stream == null) {
      try {
        stream = opener.open(from);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return stream;
  }
}
