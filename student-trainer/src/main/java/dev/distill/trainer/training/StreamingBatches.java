package dev.distill.trainer.training;

import ai.djl.ndarray.NDManager;
import dev.distill.trainer.data.Example;
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
  private final int maxPositions;
  private long cropped;

  public StreamingBatches(Opener opener, int batchSize, DistillationLoss loss) {
    this(opener, batchSize, loss, Integer.MAX_VALUE);
  }

  /**
   * As above, every example cut to its first {@code maxPositions} positions ({@link
   * Example#cropped}): the student's context length, when curated examples are longer (prompts
   * labelled by a teacher with a longer context); {@link #cropped()} counts them.
   */
  public StreamingBatches(Opener opener, int batchSize, DistillationLoss loss, int maxPositions) {
    this.maxPositions = maxPositions;
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
    return DistillationBatches.next(manager, batchSize, () -> crop(s.next()), loss);
  }

  private Example crop(Example e) {
    Example c = e.cropped(maxPositions);
    if (c != e) {
      cropped++;
    }
    return c;
  }

  /** Examples drawn so far that were longer than maxPositions and were cut to it. */
  public long cropped() {
    return cropped;
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
