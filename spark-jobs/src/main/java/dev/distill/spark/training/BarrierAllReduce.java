package dev.distill.spark.training;

import dev.distill.training.spi.AllReduce;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import org.apache.spark.BarrierTaskContext;

/**
 * {@link AllReduce} over Spark's barrier tasks: each worker publishes its array with {@code
 * BarrierTaskContext.allGather} (Spark 3.0+, messages are strings, returned ordered by partition
 * id), then every worker sums the arrays in rank order, so all get bit-identical results.
 *
 * <p>Arrays travel as base64 of little-endian float32, in chunks of at most {@link #CHUNK_FLOATS}
 * floats so one message stays far below {@code spark.rpc.message.maxSize} (128 MiB). This is an
 * all-gather, not a ring all-reduce: each worker receives (W - 1) x the array, and the driver
 * relays W x. Fine for a small student and a few workers; see deploy/README.md for what that means
 * at 8 and 64 workers.
 */
final class BarrierAllReduce implements AllReduce {
  static final int CHUNK_FLOATS = 4 << 20;

  private final BarrierTaskContext context;
  private long sent;

  BarrierAllReduce(BarrierTaskContext context) {
    this.context = context;
  }

  @Override
  public float[] sum(float[] local) {
    float[] out = new float[local.length];
    // Every worker makes the same number of allGather calls: the chunk count follows the length,
    // which the contract makes equal on every worker (and is checked below).
    int chunks = Math.max(1, (local.length + CHUNK_FLOATS - 1) / CHUNK_FLOATS);
    for (int c = 0; c < chunks; c++) {
      int from = c * CHUNK_FLOATS;
      int n = Math.min(CHUNK_FLOATS, local.length - from);
      String[] all = context.allGather(encode(local, from, n));
      for (String message : all) { // ordered by partition id: the same sum order everywhere
        ByteBuffer b = ByteBuffer.wrap(Base64.getDecoder().decode(message));
        b.order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() != 4 * n) {
          throw new IllegalStateException(
              "all-reduce: workers sent arrays of different lengths ("
                  + b.remaining() / 4
                  + " vs "
                  + n
                  + " floats at offset "
                  + from
                  + ")");
        }
        for (int i = 0; i < n; i++) {
          out[from + i] += b.getFloat();
        }
      }
      sent += 4L * n;
    }
    return out;
  }

  @Override
  public long bytesSent() {
    return sent;
  }

  private static String encode(float[] a, int from, int n) {
    ByteBuffer b = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < n; i++) {
      b.putFloat(a[from + i]);
    }
    return Base64.getEncoder().encodeToString(b.array());
  }
}
